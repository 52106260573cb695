package kinit

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// Exchanger sends one Kerberos message to the realm's KDCs and returns the
// reply; *transport.Client is one.
type Exchanger interface {
	Exchange(ctx context.Context, kdcs []transport.KDC, req []byte) ([]byte, transport.KDC, error)
}

// KeyExchange is how the reply key is agreed. The zero value is MODP
// Diffie-Hellman in the smallest group of at least Policy.DHMinBits (2048).
type KeyExchange struct {
	Group pkinit.Group // MODP DH group (14: 2048-bit, 16: 4096-bit)
	Curve pkinit.Curve // ECDH instead, RFC 5349
	RSA   bool         // RSA key transport instead, RFC 4556 §3.2.3.2
}

// String names the key exchange for people: "DH-2048", "ECDH-P256", "RSA".
func (k KeyExchange) String() string {
	switch {
	case k.RSA:
		return "RSA key transport"
	case k.Curve == pkinit.CurveP256:
		return "ECDH P-256"
	case k.Curve == pkinit.CurveP384:
		return "ECDH P-384"
	case k.Curve == pkinit.CurveP521:
		return "ECDH P-521"
	}
	return fmt.Sprintf("DH-%d", groupBits(k.Group))
}

func groupBits(g pkinit.Group) int {
	switch g {
	case pkinit.MODPGroup2:
		return 1024
	case pkinit.MODPGroup14:
		return 2048
	case pkinit.MODPGroup16:
		return 4096
	case pkinit.MODPGroup18:
		return 8192
	}
	return 0
}

// Request is one kinit: who, with what, from where.
type Request struct {
	Client      ccache.Principal // see [ClientName]
	Identity    Identity
	KeyExchange KeyExchange
	// Server is the service of the initial ticket (MIT kinit -S); the zero
	// value is krbtgt/REALM, a TGT.
	Server ccache.Principal
	// Options are the initial ticket's lifetime and flags.
	Options TicketOptions
	// Services are fetched with the TGT (kvno, sclogon kinit
	// --service-ticket) and stored beside it.
	Services []ccache.Principal
	Policy   Policy
	KDCs     []transport.KDC // see [transport.Locate]
}

// server is the initial ticket's service.
func (r *Request) server() ccache.Principal {
	if len(r.Server.Components) == 0 {
		return krbtgt(r.Client.Realm)
	}
	return r.Server
}

// Client runs the PKINIT AS exchange (and TGS exchanges for services). The
// zero value is not usable: set Transport.
type Client struct {
	Transport Exchanger
	Now       func() time.Time // default time.Now
	Rand      io.Reader        // default crypto/rand
	// Trace, when set, is told of each step (for -V). Never secrets.
	Trace func(format string, args ...any)
	// AgreementKey, when set, supplies the key-agreement key of each DH or
	// ECDH request instead of a fresh one: a load generator reuses one per
	// client ([pkinit.DHKey.ForReuse]) so that its own CPU does not bound the
	// KDC it measures. A logon never sets it: its key is used once.
	AgreementKey func(KeyExchange) (*pkinit.DHKey, error)
}

// Result is what a kinit obtained.
type Result struct {
	Client         ccache.Principal  // as the KDC named the client
	TGT            ccache.Credential // the initial ticket: a TGT unless Request.Server names a service
	Services       []ccache.Credential
	KDC            string // the KDC that answered, "tcp/host:port"
	KDCCertificate *x509.Certificate
	KeyExchange    KeyExchange // what was used, after any retry
}

// CCache is the result as a credential cache: the TGT, then the service tickets.
func (r *Result) CCache() *ccache.CCache {
	return &ccache.CCache{Principal: r.Client, Credentials: append([]ccache.Credential{r.TGT}, r.Services...)}
}

// agreementKey is the key-agreement key for a request in kx: a fresh one
// unless AgreementKey supplies it.
func (c *Client) agreementKey(kx KeyExchange) (*pkinit.DHKey, error) {
	if c.AgreementKey != nil {
		return c.AgreementKey(kx)
	}
	return pkinit.NewAgreementKey(kx.Curve, kx.Group, c.rand())
}

// offeredETypes are the enctypes the client accepts for the reply and session
// keys, in preference order: the AES families of RFC 3962 and RFC 8009.
var offeredETypes = []int32{18, 17, 20, 19}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Client) trace(format string, args ...any) {
	if c.Trace != nil {
		c.Trace(format, args...)
	}
}

// nonce is a KDC-REQ-BODY nonce; 31 bits, as some KDCs read it signed.
func (c *Client) nonce() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(c.rand(), b[:]); err != nil {
		return 0, fmt.Errorf("kinit: nonce: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]) & 0x7fffffff, nil
}

func principalName(p ccache.Principal) types.PrincipalName {
	return types.PrincipalName{NameType: p.NameType, NameString: p.Components}
}

func krbtgt(realm string) ccache.Principal {
	return ccache.Principal{NameType: NameTypeSrvInst, Components: []string{"krbtgt", realm}, Realm: realm}
}

// asState is one PKINIT AS-REQ as sent.
type asState struct {
	asReq []byte
	nonce uint32        // of the body and the PKAuthenticator
	key   *pkinit.DHKey // nil for RSA key transport
}

// asExchange is what one Run works with: the request, its policy with
// defaults filled in, and the key exchange of the next AS-REQ.
type asExchange struct {
	req    Request
	id     Identity
	pol    Policy
	kx     KeyExchange
	server ccache.Principal
}

func (x *asExchange) realm() string { return x.req.Client.Realm }

// Run obtains the initial ticket (a TGT unless req.Server says otherwise)
// for req.Client with req.Identity, then any services.
func (c *Client) Run(ctx context.Context, req Request) (*Result, error) {
	x, err := c.prepare(req)
	if err != nil {
		return nil, err
	}
	c.trace("getting initial credentials for %s (service %s)", req.Client, x.server)
	freshness, err := c.probe(ctx, x)
	if err != nil {
		return nil, err
	}
	res, kdc, err := c.signedExchange(ctx, x, freshness)
	if err != nil {
		return nil, err
	}
	res.KDC = kdc.String()
	res.KeyExchange = x.kx
	c.trace("initial ticket for %s, service %s, from %s, valid until %s", res.Client, x.server, kdc, res.TGT.EndTime.Format(time.RFC3339))
	for _, svc := range req.Services {
		cred, err := c.serviceTicket(ctx, req.KDCs, res, svc)
		if err != nil {
			return nil, err
		}
		res.Services = append(res.Services, cred)
	}
	return res, nil
}

// signedExchange sends the signed AS-REQ and reads the AS-REP. With RSA key
// transport the identity's key works twice, to sign and then to decrypt the
// reply key, and a card identity is kept between the two (SessionIdentity):
// one PIN, even on a PIN pad.
func (c *Client) signedExchange(ctx context.Context, x *asExchange, freshness []byte) (*Result, transport.KDC, error) {
	if s, ok := x.id.(SessionIdentity); ok && x.kx.RSA {
		end := s.Session()
		defer func() {
			// The logon's outcome stands: a card that cannot be released
			// is reset by PC/SC (see card.Transactor).
			if err := end(); err != nil {
				c.trace("releasing %s: %v", x.id.Label(), err)
			}
		}()
	}
	reply, kdc, st, err := c.pkinitExchange(ctx, x, freshness)
	if err != nil {
		return nil, kdc, err
	}
	res, err := c.readASRep(ctx, reply, st, x)
	return res, kdc, err
}

// prepare checks the request and fills in the policy's defaults.
func (c *Client) prepare(req Request) (*asExchange, error) {
	if c.Transport == nil {
		return nil, errors.New("kinit: Client.Transport is not set")
	}
	id := req.Identity
	if id == nil || id.Certificate() == nil || id.Signer() == nil {
		return nil, errors.New("kinit: no identity: a certificate and its key are needed")
	}
	pol := req.Policy
	if pol.DHMinBits == 0 {
		pol.DHMinBits = 2048
	}
	if pol.MaxSkew == 0 {
		pol.MaxSkew = 5 * time.Minute
	}
	if pol.CertMatch != nil && !pol.CertMatch.Match(id.Certificate()) {
		return nil, fmt.Errorf("%w: the certificate %q does not satisfy pkinit_cert_match %q", ErrPolicy, id.Certificate().Subject.String(), pol.CertMatch)
	}
	kx, err := initialKeyExchange(req.KeyExchange, pol.DHMinBits)
	if err != nil {
		return nil, err
	}
	if kx.RSA {
		if _, ok := id.Decrypter(); !ok {
			return nil, fmt.Errorf("%w: RSA key transport needs an RSA key that can decrypt; %s cannot", ErrPolicy, id.Label())
		}
	}
	return &asExchange{req: req, id: id, pol: pol, kx: kx, server: req.server()}, nil
}

// probe sends the first AS-REQ, without pre-authentication, asking for a
// freshness token (RFC 8070); the KDC must answer PREAUTH_REQUIRED and
// offer PKINIT.
func (c *Client) probe(ctx context.Context, x *asExchange) (freshness []byte, err error) {
	c.trace("AS-REQ for %s without pre-authentication, to learn what the KDC wants", x.req.Client)
	body, _, err := c.asBody(x)
	if err != nil {
		return nil, err
	}
	first, err := buildKDCReq(appASReq, []types.PAData{{PADataType: int32(pkinit.PAASFreshness)}}, body)
	if err != nil {
		return nil, err
	}
	reply, kdc, err := c.Transport.Exchange(ctx, x.req.KDCs, first)
	if err != nil {
		return nil, fmt.Errorf("kinit: %w", err)
	}
	switch messageType(reply) {
	case appASRep:
		return nil, fmt.Errorf("%w: the KDC issued a ticket for %s without pre-authentication (the principal does not require it; sclogon only logs on with PKINIT)", ErrNoPKINIT, x.req.Client)
	case appKRBError:
	default:
		return nil, fmt.Errorf("%w: unexpected message type from %s", ErrMalformed, kdc)
	}
	kerr, err := parseKRBError(reply, kdc, x.realm())
	if err != nil {
		return nil, err
	}
	if kerr.Code != krberror.PreauthRequired {
		return nil, kerr
	}
	freshness, offersPKINIT := readMethodData(kerr.EData)
	if !offersPKINIT {
		return nil, fmt.Errorf("%w: the KDC %s does not offer PKINIT for %s", ErrNoPKINIT, kdc, x.req.Client)
	}
	c.trace("KDC %s: pre-authentication required; PKINIT offered; freshness token: %t", kdc, freshness != nil)
	return freshness, nil
}

// pkinitExchange sends the AS-REQ with PA-PK-AS-REQ and returns the KDC's
// AS-REP. A KDC that asks for another DH group, or whose freshness token
// expired, gets one more request.
func (c *Client) pkinitExchange(ctx context.Context, x *asExchange, freshness []byte) ([]byte, transport.KDC, *asState, error) {
	for attempt := 0; ; attempt++ {
		st, err := c.pkinitRequest(x, freshness)
		if err != nil {
			return nil, transport.KDC{}, nil, err
		}
		c.trace("AS-REQ with PA-PK-AS-REQ (%s, signed by %q), %d bytes", x.kx, x.id.Certificate().Subject.String(), len(st.asReq))
		reply, kdc, err := c.Transport.Exchange(ctx, x.req.KDCs, st.asReq)
		if err != nil {
			return nil, kdc, nil, fmt.Errorf("kinit: %w", err)
		}
		switch messageType(reply) {
		case appASRep:
			return reply, kdc, st, nil
		case appKRBError:
		default:
			return nil, kdc, nil, fmt.Errorf("%w: unexpected message type from %s", ErrMalformed, kdc)
		}
		kerr, err := parseKRBError(reply, kdc, x.realm())
		if err != nil {
			return nil, kdc, nil, err
		}
		offered := x.kx
		kerr.KeyExchange = &offered
		if attempt > 0 {
			return nil, kdc, nil, kerr
		}
		if freshness, err = c.retryAfter(kerr, x, freshness); err != nil {
			return nil, kdc, nil, err
		}
	}
}

// retryAfter decides whether a refused PKINIT request is worth one more:
// it returns the freshness token to send with it, having changed x's key
// exchange if the KDC asked for another group, or the refusal.
func (c *Client) retryAfter(kerr *KDCError, x *asExchange, freshness []byte) ([]byte, error) {
	switch kerr.Code {
	case krberror.DHKeyParametersNotAccepted:
		next, ok, err := groupFromEData(kerr.EData, x.pol.DHMinBits)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, kerr
		}
		c.trace("KDC %s refused %s and asks for %s: retrying once", kerr.KDC, x.kx, next)
		x.kx = next
		return freshness, nil
	case krberror.PreauthExpired:
		if tok, _ := readMethodData(kerr.EData); tok != nil {
			c.trace("KDC %s: freshness token expired; retrying once with a new one", kerr.KDC)
			return tok, nil
		}
	}
	return nil, kerr
}

func initialKeyExchange(kx KeyExchange, minBits int) (KeyExchange, error) {
	if kx.RSA || kx.Curve != 0 {
		return kx, nil
	}
	if kx.Group == 0 {
		for _, g := range []pkinit.Group{pkinit.MODPGroup14, pkinit.MODPGroup16, pkinit.MODPGroup18} {
			if groupBits(g) >= minBits {
				kx.Group = g
				break
			}
		}
		if kx.Group == 0 {
			return kx, fmt.Errorf("%w: pkinit_dh_min_bits %d is larger than any group offered", ErrPolicy, minBits)
		}
	}
	if groupBits(kx.Group) < minBits {
		return kx, fmt.Errorf("%w: DH-%d is below pkinit_dh_min_bits %d", ErrPolicy, groupBits(kx.Group), minBits)
	}
	return kx, nil
}

// asBody is the KDC-REQ-BODY of an AS-REQ, with a new nonce: the options
// and times of x.req.Options, no addresses.
func (c *Client) asBody(x *asExchange) ([]byte, uint32, error) {
	n, err := c.nonce()
	if err != nil {
		return nil, 0, err
	}
	o := x.req.Options
	from, till, rtime := o.times(c.now())
	b := messages.KDCReqBody{
		KDCOptions: o.kdcOptions(x.req.Client.NameType == NameTypeEnterprise),
		CName:      principalName(x.req.Client),
		Realm:      x.realm(),
		SName:      principalName(x.server),
		From:       from,
		Till:       till,
		RTime:      rtime,
		Nonce:      int(n),
		EType:      offeredETypes,
	}
	raw, err := b.Marshal()
	if err != nil {
		return nil, 0, fmt.Errorf("kinit: encode KDC-REQ-BODY: %w", err)
	}
	return raw, n, nil
}

// pkinitRequest builds the AS-REQ with PA-PK-AS-REQ: a fresh body, an
// AuthPack over it, signed with the identity's key.
func (c *Client) pkinitRequest(x *asExchange, freshness []byte) (*asState, error) {
	body, nonce, err := c.asBody(x)
	if err != nil {
		return nil, err
	}
	now := c.now().UTC()
	ap := &pkinit.AuthPack{
		PKAuthenticator: pkinit.PKAuthenticator{
			Cusec:          now.Nanosecond() / 1000,
			CTime:          now.Truncate(time.Second),
			Nonce:          nonce,
			PAChecksum:     pkinit.PAChecksum(body),
			FreshnessToken: freshness,
		},
		SupportedKDFs: []pkinit.KDF{pkinit.KDFSHA256, pkinit.KDFSHA1, pkinit.KDFSHA512},
		// So that a KDC which reads it (Heimdal, Samba) signs with SHA-2.
		SupportedCMSTypes: pkinit.SupportedCMSTypes(x.pol.AllowSHA1),
	}
	st := &asState{nonce: nonce}
	if !x.kx.RSA {
		if st.key, err = c.agreementKey(x.kx); err != nil {
			return nil, err
		}
		if ap.ClientPublicValue, err = st.key.PublicKeyInfo(); err != nil {
			return nil, err
		}
	}
	id := x.id
	chain := id.Chain()
	for _, ca := range x.pol.issuerChain(id.Certificate(), now) {
		if !slices.ContainsFunc(chain, func(c *x509.Certificate) bool { return c.Equal(ca) }) {
			chain = append(chain, ca)
		}
	}
	pa, err := pkinit.BuildPKASReq(ap, id.Signer(), id.Certificate(), pkinit.SignOptions{Chain: chain, Rand: c.rand()})
	if err != nil {
		return nil, fmt.Errorf("kinit: signing the request with %s: %w", id.Label(), err)
	}
	st.asReq, err = buildKDCReq(appASReq, []types.PAData{{PADataType: int32(pkinit.PAPKASReq), PADataValue: pa}}, body)
	return st, err
}

// readASRep verifies the KDC's reply: its PA-PK-AS-REP (signature, nonce or
// asChecksum, the KDC certificate), then the enc-part with the reply key.
func (c *Client) readASRep(ctx context.Context, raw []byte, st *asState, x *asExchange) (*Result, error) {
	rep, pkASRep, err := parseASRep(raw)
	if err != nil {
		return nil, err
	}
	replyKey, sc, signedRaw, err := c.replyKey(rep, pkASRep, st, x)
	if err != nil {
		return nil, fmt.Errorf("kinit: the KDC's PKINIT reply: %w", err)
	}
	c.trace("KDC signature verified: signer %q, digest %v", sc.Signer.Subject.String(), sc.Hash)
	now := c.now()
	if err := x.pol.checkKDC(ctx, kdcCheck{signed: sc, raw: signedRaw, realm: x.realm(), now: now}); err != nil {
		return nil, err
	}
	c.trace("KDC certificate trusted: path to an anchor, EKU and name checked")
	enc, err := decryptRepPart(rep.EncPart, types.EncryptionKey{KeyType: replyKey.KeyType, KeyValue: replyKey.KeyValue}, usageASRepEncPart, "AS-REP", "the PKINIT reply key")
	if err != nil {
		return nil, err
	}
	client := ccache.Principal{NameType: rep.CName.NameType, Components: rep.CName.NameString, Realm: rep.CRealm}
	if err := x.checkEncASRepPart(enc, st, client, now); err != nil {
		return nil, err
	}
	tkt, err := rawTicket(raw, appASRep)
	if err != nil {
		return nil, err
	}
	return &Result{
		Client:         client,
		TGT:            credential(client, x.server, enc, tkt),
		KDCCertificate: sc.Signer,
	}, nil
}

// parseASRep decodes the AS-REP and finds its PA-PK-AS-REP.
func parseASRep(raw []byte) (*messages.ASRep, []byte, error) {
	var rep messages.ASRep
	if err := rep.Unmarshal(raw); err != nil {
		return nil, nil, fmt.Errorf("%w: AS-REP: %v", ErrMalformed, err)
	}
	var pkASRep []byte
	for _, pa := range rep.PAData {
		if pa.PADataType == int32(pkinit.PAPKASRep) {
			pkASRep = pa.PADataValue
		}
	}
	if pkASRep == nil {
		return nil, nil, fmt.Errorf("%w: the AS-REP has no PA-PK-AS-REP", ErrNoPKINIT)
	}
	if !slices.Contains(offeredETypes, rep.EncPart.EType) {
		return nil, nil, fmt.Errorf("%w: the AS-REP is encrypted with enctype %d, which was not offered", ErrReplyMismatch, rep.EncPart.EType)
	}
	return &rep, pkASRep, nil
}

// replyKey derives (key agreement) or opens (key transport) the AS reply
// key, and returns the KDC's verified signature with the bytes it covers.
func (c *Client) replyKey(rep *messages.ASRep, pkASRep []byte, st *asState, x *asExchange) (pkinit.EncryptionKey, *pkinit.SignedContent, []byte, error) {
	parsed, err := pkinit.ParsePKASRep(pkASRep)
	if err != nil {
		return pkinit.EncryptionKey{}, nil, nil, err
	}
	if st.key == nil {
		return keyTransportReply(parsed, st, rep.EncPart.EType, x.id, x.pol.AllowSHA1, c.rand())
	}
	if parsed.DHInfo == nil {
		return pkinit.EncryptionKey{}, nil, nil, fmt.Errorf("%w: the KDC answered a key-agreement request with key transport", ErrReplyMismatch)
	}
	client, server := x.req.Client, x.server
	key, sc, err := pkinit.ClientReplyKey(pkASRep, pkinit.ClientReplyParams{
		Key:   st.key,
		Nonce: st.nonce,
		EType: rep.EncPart.EType,
		KDFInputs: pkinit.KDFInputs{
			Client: pkinit.KRB5PrincipalName{NameType: client.NameType, Name: client.Components, Realm: client.Realm},
			KDC:    pkinit.KRB5PrincipalName{NameType: server.NameType, Name: server.Components, Realm: server.Realm},
			ASReq:  st.asReq,
		},
		Verify: pkinit.VerifyOptions{AllowSHA1: x.pol.AllowSHA1},
	})
	return key, sc, parsed.DHInfo.DHSignedData, err
}

// checkEncASRepPart checks that the reply answers this request: nonce,
// service, client, and times.
func (x *asExchange) checkEncASRepPart(enc messages.EncKDCRepPart, st *asState, client ccache.Principal, now time.Time) error {
	if uint32(enc.Nonce) != st.nonce {
		return fmt.Errorf("%w: EncASRepPart nonce %d, sent %d", ErrReplyMismatch, enc.Nonce, st.nonce)
	}
	if enc.SRealm != x.server.Realm || !slices.Equal(enc.SName.NameString, x.server.Components) {
		return fmt.Errorf("%w: the ticket is for %v@%s, not %s", ErrReplyMismatch, enc.SName.NameString, enc.SRealm, x.server)
	}
	want := x.req.Client
	if want.NameType != NameTypeEnterprise && !x.req.Options.Canonicalize && (client.Realm != want.Realm || !slices.Equal(client.Components, want.Components)) {
		return fmt.Errorf("%w: the ticket is for %s, asked for %s", ErrReplyMismatch, client, want)
	}
	if d := enc.AuthTime.Sub(now); d > x.pol.MaxSkew || -d > x.pol.MaxSkew {
		return fmt.Errorf("%w: the KDC's time is %s, ours %s (allowed: %s)", ErrSkew, enc.AuthTime.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), x.pol.MaxSkew)
	}
	if !enc.EndTime.After(now) {
		return fmt.Errorf("%w: the ticket expired at %s", ErrReplyMismatch, enc.EndTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// keyTransportReply opens the KDC's encKeyPack with the identity's key,
// RFC 4556 §3.2.3.2, decrypting only once (on a card, once is one PIN use).
func keyTransportReply(rep *pkinit.PKASRep, st *asState, etype int32, id Identity, allowSHA1 bool, rnd io.Reader) (pkinit.EncryptionKey, *pkinit.SignedContent, []byte, error) {
	var none pkinit.EncryptionKey
	if rep.EncKeyPack == nil {
		return none, nil, nil, fmt.Errorf("%w: the KDC answered a key-transport request with key agreement", ErrReplyMismatch)
	}
	dec, _ := id.Decrypter()
	_, inner, err := pkinit.OpenEnvelopedData(rep.EncKeyPack, id.Certificate(), dec, rnd)
	if err != nil {
		return none, nil, nil, err
	}
	sc, err := pkinit.VerifySignedData(inner, pkinit.VerifyOptions{ContentType: pkinit.ContentRKeyData, AllowSHA1: allowSHA1})
	if err != nil {
		return none, nil, nil, err
	}
	pack, err := pkinit.ParseReplyKeyPack(sc.Content)
	if err != nil {
		return none, nil, nil, err
	}
	if pack.ReplyKey.KeyType != etype {
		return none, nil, nil, fmt.Errorf("%w: reply key is etype %d, enc-part %d", pkinit.ErrASChecksumMismatch, pack.ReplyKey.KeyType, etype)
	}
	if err := pack.CheckASChecksum(st.asReq); err != nil {
		return none, nil, nil, err
	}
	return pack.ReplyKey, sc, inner, nil
}

func credential(client, server ccache.Principal, enc messages.EncKDCRepPart, ticket []byte) ccache.Credential {
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	return ccache.Credential{
		Client:    client,
		Server:    server,
		Key:       ccache.Key{EType: enc.Key.KeyType, Value: enc.Key.KeyValue},
		AuthTime:  enc.AuthTime,
		StartTime: start,
		EndTime:   enc.EndTime,
		RenewTill: enc.RenewTill,
		Flags:     flagsOf(enc.Flags.Bytes),
		Ticket:    ticket,
	}
}

func parseKRBError(raw []byte, kdc transport.KDC, realm string) (*KDCError, error) {
	var k messages.KRBError
	if err := k.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%w: KRB-ERROR from %s: %v", ErrMalformed, kdc, err)
	}
	return &KDCError{Code: krberror.Code(k.ErrorCode), Text: k.EText, EData: k.EData, Realm: realm, KDC: kdc.String()}, nil
}

// readMethodData reads the METHOD-DATA of a PREAUTH_REQUIRED error: the
// freshness token, and whether PA-PK-AS-REQ is offered.
func readMethodData(edata []byte) (freshness []byte, pkinitOffered bool) {
	var md types.PADataSequence
	if len(edata) == 0 || md.Unmarshal(edata) != nil {
		return nil, false
	}
	for _, pa := range md {
		switch pa.PADataType {
		case int32(pkinit.PAASFreshness):
			if len(pa.PADataValue) > 0 {
				freshness = pa.PADataValue
			}
		case int32(pkinit.PAPKASReq):
			pkinitOffered = true
		}
	}
	return freshness, pkinitOffered
}

// groupFromEData picks, from a KDC's TD-DH-PARAMETERS, the first group it
// prefers that the policy accepts.
func groupFromEData(edata []byte, minBits int) (KeyExchange, bool, error) {
	tds, err := pkinit.ParseTypedData(edata)
	if err != nil {
		return KeyExchange{}, false, nil
	}
	for _, td := range tds {
		if td.Type != pkinit.TDDHParameters {
			continue
		}
		params, err := pkinit.ParseTDDHParameters(td.Value)
		if err != nil {
			return KeyExchange{}, false, fmt.Errorf("%w: TD-DH-PARAMETERS: %v", ErrMalformed, err)
		}
		var refused []int
		for _, p := range params {
			g := groupOfParams(p.Parameters.FullBytes)
			if g == 0 {
				continue
			}
			if groupBits(g) < minBits {
				refused = append(refused, groupBits(g))
				continue
			}
			return KeyExchange{Group: g}, true, nil
		}
		if len(refused) > 0 {
			return KeyExchange{}, false, fmt.Errorf("%w: the KDC asks for a DH group of %v bits, below pkinit_dh_min_bits %d", ErrPolicy, refused, minBits)
		}
	}
	return KeyExchange{}, false, nil
}

func groupOfParams(der []byte) pkinit.Group {
	var dp struct {
		P, G *big.Int // q, j, validationParms follow: not needed
	}
	if _, err := asn1.Unmarshal(der, &dp); err != nil || dp.P == nil {
		return 0
	}
	for _, g := range []pkinit.Group{pkinit.MODPGroup14, pkinit.MODPGroup16, pkinit.MODPGroup18, pkinit.MODPGroup2} {
		ref, err := pkinit.DHParameters(g)
		if err != nil {
			continue
		}
		var rp struct{ P, G *big.Int }
		if _, err := asn1.Unmarshal(ref[0].Parameters.FullBytes, &rp); err == nil && rp.P.Cmp(dp.P) == 0 {
			return g
		}
	}
	return 0
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
