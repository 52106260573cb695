package kinit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
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

// tgsRequest is one TGS exchange (RFC 4120 §3.3): the ticket presented, the
// service asked for, the options and the end time.
type tgsRequest struct {
	client  ccache.Principal
	ticket  ccache.Credential // presented in the AP-REQ; its key authenticates
	server  ccache.Principal
	options asn1.BitString
	till    time.Time
	rtime   time.Time // asked renew-till; zero: none
	what    string    // for errors and traces: "service ticket for …", "renewal of …"
}

// serviceTicket asks the KDC for a ticket to svc with the TGT, with the
// TGT's FORWARDABLE, PROXIABLE and RENEWABLE asked for again, as MIT's
// krb5_get_credentials does (KDC_TKT_COMMON_MASK): the service ticket is as
// forwardable and renewable as the TGT allows.
func (c *Client) serviceTicket(ctx context.Context, kdcs []transport.KDC, res *Result, svc ccache.Principal) (ccache.Credential, error) {
	r := tgsRequest{
		client: res.Client, ticket: res.TGT, server: svc, options: inheritedOptions(res.TGT),
		till: res.TGT.EndTime, what: "service ticket for " + svc.String(),
	}
	if res.TGT.Flags&ticketFlag(flagRenewable) != 0 {
		r.rtime = res.TGT.RenewTill
	}
	return c.tgs(ctx, kdcs, r)
}

// Renew renews tgt, a renewable ticket of client's, through a TGS-REQ with
// the RENEW option (MIT kinit -R): the new ticket has the old one's life
// again from now, up to its renew-till. No card is needed.
func (c *Client) Renew(ctx context.Context, kdcs []transport.KDC, client ccache.Principal, tgt ccache.Credential) (ccache.Credential, error) {
	if tgt.Flags&ticketFlag(flagRenewable) == 0 {
		return ccache.Credential{}, fmt.Errorf("%w: the ticket for %s is not renewable", ErrNotRenewable, tgt.Server)
	}
	if !c.now().Before(tgt.RenewTill) {
		return ccache.Credential{}, fmt.Errorf("%w: the ticket for %s could be renewed until %s only", ErrNotRenewable, tgt.Server, tgt.RenewTill.Local().Format(time.DateTime))
	}
	return c.tgs(ctx, kdcs, tgsRequest{
		client: client, ticket: tgt, server: tgt.Server, options: refreshOptions(optRenew, tgt),
		till: tgt.RenewTill, rtime: tgt.RenewTill, what: "renewal of " + tgt.Server.String(),
	})
}

// Validate has the KDC validate tgt, a postdated ticket of client's whose
// start time has come, through a TGS-REQ with the VALIDATE option (MIT
// kinit -v).
func (c *Client) Validate(ctx context.Context, kdcs []transport.KDC, client ccache.Principal, tgt ccache.Credential) (ccache.Credential, error) {
	if tgt.Flags&ticketFlag(flagInvalid) == 0 {
		return ccache.Credential{}, fmt.Errorf("%w: the ticket for %s is already valid", ErrNotPostdated, tgt.Server)
	}
	return c.tgs(ctx, kdcs, tgsRequest{
		client: client, ticket: tgt, server: tgt.Server, options: refreshOptions(optValidate, tgt),
		till: tgt.EndTime, rtime: tgt.RenewTill, what: "validation of " + tgt.Server.String(),
	})
}

// refreshOptions are the options of a renewal or validation: op, and the
// ticket's own FORWARDABLE, PROXIABLE and RENEWABLE asked for again, as MIT's
// krb5_get_renewed_creds does (its KDC_TKT_COMMON_MASK); without them MIT's
// KDC drops the flags from the new ticket.
func refreshOptions(op int, tgt ccache.Credential) asn1.BitString {
	return kdcOptions(append(inheritedBits(tgt), op)...)
}

// inheritedOptions are the TGT's FORWARDABLE, PROXIABLE and RENEWABLE as
// KDC options.
func inheritedOptions(tgt ccache.Credential) asn1.BitString {
	return kdcOptions(inheritedBits(tgt)...)
}

func inheritedBits(tgt ccache.Credential) []int {
	var bits []int
	for _, b := range []int{optForwardable, optProxiable, optRenewable} {
		if tgt.Flags&ticketFlag(b) != 0 { // the option bits are the flag bits
			bits = append(bits, b)
		}
	}
	return bits
}

var (
	// ErrNotRenewable: kinit -R on a ticket that is not renewable, or
	// whose renewable life has ended.
	ErrNotRenewable = errors.New("kinit: the ticket cannot be renewed")
	// ErrNotPostdated: kinit -v on a ticket that needs no validation.
	ErrNotPostdated = errors.New("kinit: the ticket is not a postdated ticket awaiting validation")
)

// tgs sends one TGS-REQ and checks the TGS-REP against it.
func (c *Client) tgs(ctx context.Context, kdcs []transport.KDC, r tgsRequest) (ccache.Credential, error) {
	nonce, err := c.nonce()
	if err != nil {
		return ccache.Credential{}, err
	}
	msg, err := c.tgsReq(r, nonce)
	if err != nil {
		return ccache.Credential{}, err
	}
	c.trace("TGS-REQ: %s", r.what)
	reply, kdc, err := c.Transport.Exchange(ctx, kdcs, msg)
	if err != nil {
		return ccache.Credential{}, fmt.Errorf("kinit: %w", err)
	}
	switch messageType(reply) {
	case appKRBError:
		kerr, err := parseKRBError(reply, kdc, r.server.Realm)
		if err != nil {
			return ccache.Credential{}, err
		}
		return ccache.Credential{}, fmt.Errorf("kinit: %s: %w", r.what, kerr)
	case appTGSRep:
	default:
		return ccache.Credential{}, fmt.Errorf("%w: unexpected message type from %s", ErrMalformed, kdc)
	}
	cred, err := readTGSRep(reply, r, nonce)
	if err != nil {
		return ccache.Credential{}, err
	}
	c.trace("%s: valid until %s", r.what, cred.EndTime.Format(time.RFC3339))
	return cred, nil
}

// tgsReq encodes the TGS-REQ: the body, and an AP-REQ with the presented
// ticket whose authenticator checksums the body as sent.
func (c *Client) tgsReq(r tgsRequest, nonce uint32) ([]byte, error) {
	body, err := (&messages.KDCReqBody{
		KDCOptions: r.options,
		Realm:      r.server.Realm,
		SName:      principalName(r.server),
		Till:       r.till.UTC(),
		RTime:      r.rtime.UTC(),
		Nonce:      int(nonce),
		EType:      offeredETypes,
	}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("kinit: encode TGS KDC-REQ-BODY: %w", err)
	}
	encAuth, err := c.authenticator(r, body)
	if err != nil {
		return nil, err
	}
	apReq, err := buildAPReq(r.ticket.Ticket, encAuth)
	if err != nil {
		return nil, err
	}
	return buildKDCReq(appTGSReq, []types.PAData{{PADataType: paTGSReq, PADataValue: apReq}}, body)
}

// authenticator is the AP-REQ's encrypted authenticator, RFC 4120 §5.5.1,
// with the checksum of the req-body.
func (c *Client) authenticator(r tgsRequest, body []byte) (types.EncryptedData, error) {
	key := types.EncryptionKey{KeyType: r.ticket.Key.EType, KeyValue: r.ticket.Key.Value}
	et, err := krbcrypto.GetEtype(key.KeyType)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kinit: ticket session key: %w", err)
	}
	sum, err := et.GetChecksumHash(key.KeyValue, body, usageTGSReqChecksum)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kinit: TGS-REQ checksum: %w", err)
	}
	now := c.now().UTC()
	auth := types.Authenticator{
		AVNO:   5,
		CRealm: r.client.Realm,
		CName:  principalName(r.client),
		Cksum:  types.Checksum{CksumType: et.GetHashID(), Checksum: sum},
		Cusec:  now.Nanosecond() / 1000,
		CTime:  now.Truncate(time.Second),
	}
	authDER, err := auth.Marshal()
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kinit: encode authenticator: %w", err)
	}
	encAuth, err := krbcrypto.GetEncryptedData(authDER, key, usageTGSReqAuth, 0)
	if err != nil {
		return types.EncryptedData{}, fmt.Errorf("kinit: encrypt authenticator: %w", err)
	}
	return encAuth, nil
}

// readTGSRep decrypts the TGS-REP with the presented ticket's session key
// and checks it answers r: nonce, service, client.
func readTGSRep(reply []byte, r tgsRequest, nonce uint32) (ccache.Credential, error) {
	var rep messages.TGSRep
	if err := rep.Unmarshal(reply); err != nil {
		return ccache.Credential{}, fmt.Errorf("%w: TGS-REP: %v", ErrMalformed, err)
	}
	key := types.EncryptionKey{KeyType: r.ticket.Key.EType, KeyValue: r.ticket.Key.Value}
	enc, err := decryptRepPart(rep.EncPart, key, usageTGSRepEncPartSK, "TGS-REP", "the ticket's session key")
	if err != nil {
		return ccache.Credential{}, err
	}
	if uint32(enc.Nonce) != nonce {
		return ccache.Credential{}, fmt.Errorf("%w: EncTGSRepPart nonce %d, sent %d", ErrReplyMismatch, enc.Nonce, nonce)
	}
	if enc.SRealm != r.server.Realm || !slices.Equal(enc.SName.NameString, r.server.Components) {
		return ccache.Credential{}, fmt.Errorf("%w: the KDC answered with a ticket for %v@%s, asked for %s (referrals are not followed)", ErrReplyMismatch, enc.SName.NameString, enc.SRealm, r.server)
	}
	if rep.CRealm != r.client.Realm || !slices.Equal(rep.CName.NameString, r.client.Components) {
		return ccache.Credential{}, fmt.Errorf("%w: the ticket is for %v@%s, not %s", ErrReplyMismatch, rep.CName.NameString, rep.CRealm, r.client)
	}
	tkt, err := rawTicket(reply, appTGSRep)
	if err != nil {
		return ccache.Credential{}, err
	}
	return credential(r.client, r.server, enc, tkt), nil
}

// decryptRepPart decrypts and decodes an EncASRepPart or EncTGSRepPart,
// then wipes the plaintext, which holds the session key.
func decryptRepPart(ed types.EncryptedData, key types.EncryptionKey, usage uint32, msg, keyName string) (messages.EncKDCRepPart, error) {
	var enc messages.EncKDCRepPart
	plain, err := krbcrypto.DecryptEncPart(ed, key, usage)
	if err != nil {
		return enc, fmt.Errorf("%w: the %s enc-part does not decrypt with %s: %v", ErrReplyMismatch, msg, keyName, err)
	}
	defer wipe(plain)
	if err := enc.Unmarshal(plain); err != nil {
		return enc, fmt.Errorf("%w: the %s enc-part: %v", ErrMalformed, msg, err)
	}
	// The decoder keeps BIT STRINGs and OCTET STRINGs as slices of its
	// input: copy them out before the plaintext is wiped.
	enc.Flags.Bytes = slices.Clone(enc.Flags.Bytes)
	enc.Key.KeyValue = slices.Clone(enc.Key.KeyValue)
	return enc, nil
}
