package conform

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
)

// Config is what [New] needs.
type Config struct {
	PKI  *PKI
	Rand io.Reader        // default crypto/rand
	Now  func() time.Time // default time.Now
	Log  *slog.Logger     // default: discard
}

// KDC answers PKINIT AS-REQs with the fault of the current [Attempt]. It is
// a [kdc.Handler] (github.com/sclogon/sclogon/kdc): serve it with a
// kdc.Server. It issues no service tickets: a TGS-REQ only serves as
// evidence that the client took the TGT (see the package documentation).
type KDC struct {
	pki    *PKI
	realm  string
	rand   io.Reader
	now    func() time.Time
	log    *slog.Logger
	krbtgt types.EncryptionKey

	mu       sync.Mutex
	current  *Attempt  // the driver's attempt; nil with a schedule
	schedule *schedule // listener mode
	attempts []*Attempt
}

// Attempt is one fault shown to one client, over one or more exchanges.
type Attempt struct {
	Fault Fault
	// Request is the first PKINIT request of the attempt; nil until one arrives.
	Request *Request
	// Replies are every reply the KDC sent to the attempt's PKINIT AS-REQs,
	// as sent (an AS-REP, or the KRB-ERROR of a refused or downgraded request).
	Replies [][]byte
	// Tries counts the times the fault was shown: client runs (driver) or
	// requests that opened a try (listener).
	Tries int
	// Inapplicable says why the fault could not be shown to the request.
	Inapplicable string
	// Failed says why the KDC could not build a reply: the fault was not shown.
	Failed string
	// UsedTicket: a TGS-REQ arrived whose authenticator decrypts with one
	// of the attempt's session keys.
	UsedTicket bool

	sessionKeys [][]byte
	downgraded  bool // the TD-DH-PARAMETERS error has gone out
}

// New makes a conformance KDC for cfg.PKI's realm, with a random krbtgt key.
func New(cfg Config) (*KDC, error) {
	if cfg.PKI == nil {
		return nil, errors.New("conform: no PKI")
	}
	k := &KDC{pki: cfg.PKI, realm: cfg.PKI.Realm, rand: cfg.Rand, now: cfg.Now, log: cfg.Log}
	if k.rand == nil {
		k.rand = rand.Reader
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	key, err := randomKey(etypeAES256, k.rand)
	if err != nil {
		return nil, err
	}
	k.krbtgt = key
	return k, nil
}

// Realm is the realm the KDC serves.
func (k *KDC) Realm() string { return k.realm }

// Begin makes f the fault every PKINIT AS-REQ is answered with until the
// next Begin or [KDC.End]: the driver's mode, one client run per attempt.
func (k *KDC) Begin(f Fault) *Attempt {
	k.mu.Lock()
	defer k.mu.Unlock()
	a := &Attempt{Fault: f}
	k.current, k.schedule = a, nil
	k.attempts = append(k.attempts, a)
	return a
}

// End stops answering PKINIT AS-REQs (they get KRB_ERR_GENERIC).
func (k *KDC) End() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = nil
}

// Snapshot returns a copy of a, taken under the KDC's lock.
func (k *KDC) Snapshot(a *Attempt) Attempt {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := *a
	c.Replies = append([][]byte(nil), a.Replies...)
	c.sessionKeys = append([][]byte(nil), a.sessionKeys...)
	return c
}

// holds reports whether key is a session key the attempt issued.
func (a *Attempt) holds(key []byte) bool {
	for _, s := range a.sessionKeys {
		if bytes.Equal(s, key) {
			return true
		}
	}
	return false
}

// ServeKerberos answers an AS-REQ or a TGS-REQ; anything else gets nothing.
func (k *KDC) ServeKerberos(_ context.Context, req []byte, from netip.AddrPort, network string) []byte {
	if len(req) == 0 {
		return nil
	}
	switch req[0] {
	case 0x6a: // [APPLICATION 10] AS-REQ
		return k.serveAS(req)
	case 0x6c: // [APPLICATION 12] TGS-REQ
		return k.serveTGS(req)
	}
	return nil
}

// serveAS asks for PKINIT, then answers it with the current fault.
func (k *KDC) serveAS(msg []byte) []byte {
	in, err := readRequest(msg, k.pki.Realm)
	if errors.Is(err, errNoPKINIT) {
		return k.krbError(krberror.PreauthRequired, "PKINIT required", methodDataPKINIT())
	}
	if err != nil {
		k.log.Info("conform: AS-REQ refused", "err", err)
		return k.krbError(krberror.PreauthFailed, err.Error(), nil)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	a := k.attemptFor(in)
	if a == nil {
		return k.krbError(krberror.Generic, "the conformance KDC has no fault left to show", nil)
	}
	reply, sessionKey, err := k.answer(a, in)
	if err != nil {
		k.log.Warn("conform: building the reply", "fault", a.Fault.Name, "err", err)
		a.Failed = err.Error()
		reply = k.krbError(krberror.Generic, "conformance KDC: "+err.Error(), nil)
	}
	if sessionKey != nil {
		a.sessionKeys = append(a.sessionKeys, sessionKey)
	}
	a.Replies = append(a.Replies, reply)
	k.log.Info("conform: answered", "fault", a.Fault.Name, "exchange", in.request.Exchange, "group", in.request.Group)
	return reply
}

// attemptFor is the attempt a PKINIT request belongs to: the driver's, or
// the schedule's next. Called with k.mu held.
func (k *KDC) attemptFor(in *incoming) *Attempt {
	if k.current != nil {
		return k.current
	}
	if k.schedule != nil {
		return k.schedule.next(k, in.request)
	}
	return nil
}

// answer makes the reply to one PKINIT request of attempt a.
func (k *KDC) answer(a *Attempt, in *incoming) (reply, sessionKey []byte, err error) {
	first := a.Request == nil
	if first {
		r := in.request
		a.Request = &r
		if !a.Fault.applies(r) {
			a.Inapplicable = fmt.Sprintf("the client asked for %s", describe(r))
		}
	}
	if a.Inapplicable != "" {
		return k.krbError(krberror.Generic, "conformance KDC: fault "+a.Fault.Name+" does not apply to this request", nil), nil, nil
	}
	p := plan{}
	a.Fault.tamper(&p)
	if p.downgrade {
		if !a.downgraded || in.request.Group != 2 {
			a.downgraded = true
			return k.krbError(krberror.DHKeyParametersNotAccepted, "use MODP group 2", tdDHParametersGroup2()), nil, nil
		}
		p.downgrade = false // the client came back with group 2: let it log on
	}
	pk, key, err := k.pkReply(p, in, len(a.Replies))
	if err != nil {
		return nil, nil, err
	}
	return k.asRep(p, in, pk, key)
}

func describe(r Request) string {
	switch r.Exchange {
	case ExchangeMODP:
		return fmt.Sprintf("MODP group %d", r.Group)
	case ExchangeECDH:
		return "ECDH " + r.Curve
	}
	return "RSA key transport"
}

// serveTGS records which attempt's TGT a TGS-REQ uses, and refuses it.
func (k *KDC) serveTGS(msg []byte) []byte {
	var req messages.TGSReq
	if err := req.Unmarshal(msg); err != nil {
		return nil
	}
	for _, pa := range req.PAData {
		if pa.PADataType != 1 { // PA-TGS-REQ, RFC 4120 §5.2.7
			continue
		}
		var ap messages.APReq
		if err := ap.Unmarshal(pa.PADataValue); err != nil {
			continue
		}
		k.markUsed(ap.EncryptedAuthenticator)
	}
	// The error names the service asked for, as a client then reports it.
	e := k.krbError(krberror.SPrincipalUnknown, "the conformance KDC issues no service tickets", nil)
	var ke messages.KRBError
	if ke.Unmarshal(e) == nil {
		ke.SName, ke.Realm = req.ReqBody.SName, k.realm
		if b, err := ke.Marshal(); err == nil {
			return b
		}
	}
	return e
}

// markUsed marks the attempt whose session key opens the authenticator:
// only a client that took that attempt's reply can have made it.
func (k *KDC) markUsed(auth types.EncryptedData) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range k.attempts {
		for _, s := range a.sessionKeys {
			key := types.EncryptionKey{KeyType: auth.EType, KeyValue: s}
			if _, err := crypto.DecryptEncPart(auth, key, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR); err == nil {
				a.UsedTicket = true
				return
			}
		}
	}
}

// krbError is a KRB-ERROR from krbtgt/REALM.
func (k *KDC) krbError(code krberror.Code, text string, edata []byte) []byte {
	e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+k.realm), k.realm, int32(code), text)
	now := k.now().UTC()
	e.STime, e.Susec = now.Truncate(time.Second), now.Nanosecond()/1000
	e.EData = edata
	b, err := e.Marshal()
	if err != nil {
		e.EText = ""
		b, _ = e.Marshal()
	}
	return b
}
