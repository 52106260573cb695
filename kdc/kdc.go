// Package kdc is sclogon's test KDC: it judges a smart-card logon the way an
// Active Directory domain controller does, strictly and observably.
//
// Load a configuration with [LoadConfig] (or fill a [Config]), make the KDC
// with [New], and serve it with a [Server] (UDP and TCP); [KDC.ServeKerberos]
// is the handler. Every AS and TGS attempt is written to the audit log as one
// JSON line ([AuditRecord]).
//
// # The AS exchange with PKINIT
//
// An AS-REQ without PA-PK-AS-REQ is answered with KDC_ERR_PREAUTH_REQUIRED,
// offering PKINIT and, unless freshness is off, a PA-AS-FRESHNESS token
// (RFC 8070). With PA-PK-AS-REQ the KDC verifies, in order: the CMS signature
// over the AuthPack as received and its paChecksum over the raw KDC-REQ-BODY;
// the client certificate's validity, its path to the trust anchors, that its
// issuing CA is in the NTAuth store, its key usage and EKU; its revocation
// status over OCSP; the PKAuthenticator's nonce, time and freshness token; that
// the request is not a replay; the key-agreement group or curve. It then maps
// the certificate to an account (package mapping) and issues a TGT with a PAC,
// replying by DH, ECDH or RSA key transport, signed with the KDC's key. Each
// refusal carries the RFC 4556 / RFC 4120 code and e-data a client acts on.
//
// Both exchanges run as small named stages over one per-request state
// (asExchange, tgsExchange), and one pure policy decides every ticket's flags
// and times (decideGrant, RFC 4120 §3.1.3, §3.3.3).
//
// # The TGS exchange
//
// Service tickets for the principals in the key store, with the TGT's PAC
// carried over and re-signed; renewals of renewable tickets.
//
// # Hostile input
//
// A message that is not an AS-REQ or TGS-REQ gets no reply, nor does one
// from the KDC's own addresses; a KDC-REQ is checked field by field before
// gokrb5 decodes it, so none can panic it; error replies and error log lines
// are rate-limited per source; TCP connections are bounded in number, per
// source, and in time ([Server]).
//
// # The KDC's own identity
//
// Its key arrives as a crypto.Signer (a PEM key, or a card through package
// card/cardkey, handed in by [LoadConfigWith]'s [KeyOpener]): the KDC knows
// no card. [New] checks its certificate as a client will and sends the path
// to the anchors with every reply.
package kdc

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/pkinit"
)

// EKUPolicy says which extended key usages a client certificate needs.
type EKUPolicy int

const (
	// EKUEither: smart card logon (1.3.6.1.4.1.311.20.2.2) or
	// id-pkinit-KPClientAuth (1.3.6.1.5.2.3.4). The default.
	EKUEither EKUPolicy = iota
	// EKUSmartcardLogon: Microsoft's smart card logon EKU, as AD requires.
	EKUSmartcardLogon
	// EKUPKINITClient: id-pkinit-KPClientAuth, as MIT's kpClientAuth requires.
	EKUPKINITClient
	// EKUNone: no EKU check.
	EKUNone
)

// FreshnessMode is the KDC's use of RFC 8070 freshness tokens.
type FreshnessMode int

const (
	FreshnessSupported FreshnessMode = iota // tokens offered and checked when sent
	FreshnessOff                            // no tokens offered
	FreshnessRequired                       // a request without a valid token is refused
)

// OCSPMode is how the KDC checks a client certificate's revocation status.
type OCSPMode int

const (
	OCSPHard OCSPMode = iota // status must be known good: fail closed
	OCSPSoft                 // revoked is refused; unknown is let through, and logged
	OCSPOff                  // no revocation check
)

// Config is a KDC's complete configuration; [LoadConfig] builds one from a
// file. Zero durations take the defaults named on each field.
type Config struct {
	Realm string
	// Listen are host:port addresses served over both UDP and TCP.
	Listen []string
	// StateDir holds the realm's long-term keys (keys.json), unless
	// KeyBackend keeps them elsewhere.
	StateDir string
	// KeyBackend is where the realm's keys live when several KDCs share
	// them ([LDAPKeys]); nil keeps them in StateDir. KeyRefresh is how
	// often they are re-read (default a minute).
	KeyBackend KeyBackend
	KeyRefresh time.Duration

	// Certificate is the KDC's certificate chain, leaf first; Key its key.
	Certificate []*x509.Certificate
	Key         crypto.Signer

	// Anchors are the trusted roots for client certificates; Intermediates
	// help build paths (clients usually embed theirs).
	Anchors       []*x509.Certificate
	Intermediates []*x509.Certificate
	// NTAuth are the CAs allowed to issue logon certificates: the CA that
	// issued the client's certificate must be one of them, as in AD.
	NTAuth []*x509.Certificate

	ClientEKU EKUPolicy
	// CertificateCacheTTL keeps each client certificate's verified path
	// this long, for the user's next logons (default 10 minutes; negative:
	// every path is built afresh). The certificates' validity, NTAuth, key
	// usage and EKU are checked on every request all the same.
	CertificateCacheTTL time.Duration
	OCSP                OCSPMode
	// OCSPPolicy tunes the OCSP client (timeouts, skew, cache, responder).
	OCSPPolicy revocation.Policy

	Directory mapping.Directory
	Mapping   mapping.Policy

	TicketLifetime time.Duration // default 10h
	RenewLifetime  time.Duration // default 7 days; negative: no renewable tickets
	MaxSkew        time.Duration // default 5 minutes

	Freshness FreshnessMode
	// DHGroups are the accepted MODP groups, preferred first (default 14, 16,
	// 18); Curves the accepted ECDH curves (default all three); KDFs the RFC
	// 8636 KDFs (default SHA-256, SHA-512, SHA-1); octetstring2key is always
	// accepted from clients that offer no KDF.
	DHGroups []pkinit.Group
	Curves   []pkinit.Curve
	KDFs     []pkinit.KDF
	// NoKeyTransport refuses RSA key transport (RFC 4556 §3.2.3.2).
	NoKeyTransport bool
	// DHKeyReuse lets the KDC reuse its DH/ECDH key pair for this long
	// (announced as dhKeyExpiration); zero makes a fresh key per request.
	DHKeyReuse time.Duration
	// AllowSHA1 accepts SHA-1 CMS signatures from old clients.
	AllowSHA1 bool

	// Services are service principals (host/NAME) to create keys for.
	Services []string
}

// Options are the KDC's injected dependencies.
type Options struct {
	Now   func() time.Time
	Rand  io.Reader
	Log   *slog.Logger
	Audit io.Writer
	// OCSPHTTP carries OCSP queries (default: an HTTP client).
	OCSPHTTP revocation.Doer

	// metrics counts what the KDC does not write in the audit log (the
	// certificate path cache's hits): a Reloader's, which outlive the
	// KDCs it makes.
	metrics *Metrics
}

// KDC answers AS and TGS requests for one realm.
type KDC struct {
	cfg    Config
	realm  string
	krbtgt string // krbtgt/REALM@REALM
	keys   *KeyStore
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger
	audit  *Audit
	replay *replayCache
	ocsp   *revocation.Checker
	mapper *mapping.Mapper
	signer pkinit.KDCSigner

	skew, ticketLife, renewLife time.Duration
	roots, intermediates        *x509.CertPool
	ntauth                      map[string]bool // raw DER of the NTAuth CAs
	certPaths                   *certPathCache  // nil when off

	dhMu   sync.Mutex
	dhKeys map[dhKeyKind]*cachedDHKey

	errLog *sourceLimiter // ERROR log lines per source
}

// New makes a KDC, creating the key store's keys on first use.
func New(cfg Config, opts Options) (*KDC, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		return nil, errors.New("kdc: no randomness source")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	chain, err := cfg.ownChain(opts.Now(), opts.Log)
	if err != nil {
		return nil, err
	}
	keys, err := cfg.OpenKeys(context.Background(), opts.Rand, opts.Now, opts.Log)
	if err != nil {
		return nil, err
	}
	k := &KDC{
		cfg:        cfg,
		realm:      cfg.Realm,
		krbtgt:     "krbtgt/" + cfg.Realm + "@" + cfg.Realm,
		keys:       keys,
		now:        opts.Now,
		rand:       opts.Rand,
		log:        opts.Log,
		audit:      NewAudit(opts.Audit),
		replay:     newReplayCache(1 << 20),
		skew:       orDefault(cfg.MaxSkew, 5*time.Minute),
		ticketLife: orDefault(cfg.TicketLifetime, 10*time.Hour),
		renewLife:  orDefault(cfg.RenewLifetime, 7*24*time.Hour),
		ntauth:     map[string]bool{},
		dhKeys:     map[dhKeyKind]*cachedDHKey{},
		errLog:     newSourceLimiter(1, 5, limitedSources),
		certPaths:  newCertPathCache(cfg.CertificateCacheTTL, certPathCacheSize, opts.Now, opts.metrics),
		signer: pkinit.KDCSigner{
			Signer:      cfg.Key,
			Certificate: cfg.Certificate[0],
			Options:     pkinit.SignOptions{Chain: chain, Rand: opts.Rand},
		},
	}
	for _, p := range append([]string{k.krbtgt}, cfg.Services...) {
		if err := keys.Ensure(p); err != nil {
			return nil, err
		}
	}
	k.roots = x509.NewCertPool()
	for _, c := range cfg.Anchors {
		k.roots.AddCert(c)
	}
	k.intermediates = x509.NewCertPool()
	for _, c := range cfg.Intermediates {
		k.intermediates.AddCert(c)
	}
	for _, c := range cfg.NTAuth {
		k.ntauth[string(c.Raw)] = true
	}
	if cfg.OCSP != OCSPOff {
		pol := cfg.OCSPPolicy
		pol.HardFail = cfg.OCSP == OCSPHard
		k.ocsp = revocation.NewChecker(revocation.Options{Policy: pol, HTTP: opts.OCSPHTTP, Now: opts.Now, Rand: opts.Rand})
	}
	k.mapper = mapping.New(cfg.Directory, cfg.Mapping, mapping.Options{Now: opts.Now, Log: opts.Log})
	return k, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// check validates what New cannot do without.
func (c *Config) check() error {
	switch {
	case c.Realm == "":
		return errors.New("kdc: config: no realm")
	case c.StateDir == "" && c.KeyBackend == nil:
		return errors.New("kdc: config: no state directory")
	case len(c.Certificate) == 0 || c.Key == nil:
		return errors.New("kdc: config: no KDC certificate and key")
	case len(c.Anchors) == 0:
		return errors.New("kdc: config: no trust anchors for client certificates")
	case c.Directory == nil:
		return errors.New("kdc: config: no directory")
	}
	if !publicKeysEqual(c.Certificate[0].PublicKey, c.Key.Public()) {
		return errors.New("kdc: config: the KDC key does not belong to the KDC certificate")
	}
	if len(c.DHGroups) == 0 {
		c.DHGroups = []pkinit.Group{pkinit.MODPGroup14, pkinit.MODPGroup16, pkinit.MODPGroup18}
	}
	if len(c.Curves) == 0 {
		c.Curves = []pkinit.Curve{pkinit.CurveP256, pkinit.CurveP384, pkinit.CurveP521}
	}
	if len(c.KDFs) == 0 {
		c.KDFs = []pkinit.KDF{pkinit.KDFSHA256, pkinit.KDFSHA512, pkinit.KDFSHA1}
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// Realm is the realm the KDC serves.
func (k *KDC) Realm() string { return k.realm }

// Keys is the KDC's key store (for keytab export).
func (k *KDC) Keys() *KeyStore { return k.keys }

// ServeKerberos answers one message; it implements [Handler].
func (k *KDC) ServeKerberos(ctx context.Context, msg []byte, from netip.AddrPort, network string) []byte {
	start := k.now()
	rec := &AuditRecord{Time: start.UTC(), Client: from.String(), Network: network}
	raw, err := splitKDCReq(msg)
	if err != nil {
		// Noise gets nothing; a malformed KDC-REQ an audited KRB-ERROR.
		return k.refuseUndecoded(rec, raw, err, start)
	}
	var reply []byte
	switch raw.msgTag {
	case tagASReq:
		rec.Type = "AS"
		reply, err = k.serveAS(ctx, msg, raw, rec)
	default:
		rec.Type = "TGS"
		reply, err = k.serveTGS(ctx, msg, raw, rec)
	}
	rec.DurationMS = float64(k.now().Sub(start).Microseconds()) / 1000
	if err != nil {
		r := asRejection(err)
		rec.Result, rec.Code, rec.Reason = r.code.Name(), r.code, r.Error()
		if r.code == krberror.Generic && k.errLog.allow(from.Addr(), start) {
			// Rate-limited per source: a client that provokes internal
			// errors must not flood the log.
			k.log.Error("kdc: request failed", "type", rec.Type, "client", rec.Client, "err", err)
		}
		k.audit.write(rec)
		return krbError(k.realm, readReqNames(raw.reqBody), r.code, r.reason, r.edata, k.now())
	}
	rec.Result = "ok"
	k.audit.write(rec)
	return reply
}
