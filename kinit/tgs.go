package kinit

import (
	"context"
	"fmt"
	"slices"
	"time"

	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
)

// Key usages of the TGS exchange, RFC 4120 §7.5.1.
const (
	usageASRepEncPart    = 3
	usageTGSReqChecksum  = 6
	usageTGSReqAuth      = 7
	usageTGSRepEncPartSK = 8
)

// serviceTicket asks the KDC for a ticket to svc with the TGT (RFC 4120
// §3.3): an AP-REQ whose authenticator checksums the req-body as sent.
func (c *Client) serviceTicket(ctx context.Context, kdcs []transport.KDC, res *Result, svc ccache.Principal) (ccache.Credential, error) {
	tgt := res.TGT
	sessionKey := types.EncryptionKey{KeyType: tgt.Key.EType, KeyValue: tgt.Key.Value}
	nonce, err := c.nonce()
	if err != nil {
		return ccache.Credential{}, err
	}
	body, err := (&messages.KDCReqBody{
		KDCOptions: types.NewKrbFlags(),
		Realm:      svc.Realm,
		SName:      principalName(svc),
		Till:       tgt.EndTime.UTC(),
		Nonce:      int(nonce),
		EType:      offeredETypes,
	}).Marshal()
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: encode TGS KDC-REQ-BODY: %w", err)
	}
	et, err := krbcrypto.GetEtype(sessionKey.KeyType)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: TGT session key: %w", err)
	}
	sum, err := et.GetChecksumHash(sessionKey.KeyValue, body, usageTGSReqChecksum)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: TGS-REQ checksum: %w", err)
	}
	now := c.now().UTC()
	auth := types.Authenticator{
		AVNO:   5,
		CRealm: res.Client.Realm,
		CName:  principalName(res.Client),
		Cksum:  types.Checksum{CksumType: et.GetHashID(), Checksum: sum},
		Cusec:  now.Nanosecond() / 1000,
		CTime:  now.Truncate(time.Second),
	}
	authDER, err := auth.Marshal()
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: encode authenticator: %w", err)
	}
	encAuth, err := krbcrypto.GetEncryptedData(authDER, sessionKey, usageTGSReqAuth, 0)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: encrypt authenticator: %w", err)
	}
	apReq, err := buildAPReq(tgt.Ticket, encAuth)
	if err != nil {
		return ccache.Credential{}, err
	}
	msg, err := buildKDCReq(appTGSReq, []types.PAData{{PADataType: paTGSReq, PADataValue: apReq}}, body)
	if err != nil {
		return ccache.Credential{}, err
	}
	c.trace("TGS-REQ for %s", svc)
	reply, kdc, err := c.Transport.Exchange(ctx, kdcs, msg)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: %w", err)
	}
	switch messageType(reply) {
	case appKRBError:
		kerr, err := parseKRBError(reply, kdc, svc.Realm)
		if err != nil {
			return ccache.Credential{}, err
		}
		return ccache.Credential{}, fmt.Errorf("kinit: service ticket for %s: %w", svc, kerr)
	case appTGSRep:
	default:
		return ccache.Credential{}, fmt.Errorf("%w: unexpected message type from %s", ErrMalformed, kdc)
	}
	var rep messages.TGSRep
	if err := rep.Unmarshal(reply); err != nil {
		return ccache.Credential{}, fmt.Errorf("%w: TGS-REP: %v", ErrMalformed, err)
	}
	plain, err := krbcrypto.DecryptEncPart(rep.EncPart, sessionKey, usageTGSRepEncPartSK)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("%w: the TGS-REP does not decrypt with the TGT session key: %v", ErrReplyMismatch, err)
	}
	var enc messages.EncKDCRepPart
	if err := enc.Unmarshal(plain); err != nil {
		return ccache.Credential{}, fmt.Errorf("%w: EncTGSRepPart: %v", ErrMalformed, err)
	}
	// The decoder keeps BIT STRINGs as slices of its input: copy the flags
	// out before the plaintext (with the session key) is wiped.
	enc.Flags.Bytes = append([]byte(nil), enc.Flags.Bytes...)
	wipe(plain)
	if uint32(enc.Nonce) != nonce {
		return ccache.Credential{}, fmt.Errorf("%w: EncTGSRepPart nonce %d, sent %d", ErrReplyMismatch, enc.Nonce, nonce)
	}
	if enc.SRealm != svc.Realm || !slices.Equal(enc.SName.NameString, svc.Components) {
		return ccache.Credential{}, fmt.Errorf("%w: the KDC answered with a ticket for %v@%s, asked for %s (referrals are not followed)", ErrReplyMismatch, enc.SName.NameString, enc.SRealm, svc)
	}
	if rep.CRealm != res.Client.Realm || !slices.Equal(rep.CName.NameString, res.Client.Components) {
		return ccache.Credential{}, fmt.Errorf("%w: the service ticket is for %v@%s, not %s", ErrReplyMismatch, rep.CName.NameString, rep.CRealm, res.Client)
	}
	tkt, err := rawTicket(reply, appTGSRep)
	if err != nil {
		return ccache.Credential{}, err
	}
	c.trace("service ticket for %s, valid until %s", svc, enc.EndTime.Format(time.RFC3339))
	return credential(res.Client, svc, enc, tkt), nil
}
