package offline

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sclogon/sclogon/certs/revocation"
)

// Errors an offline logon fails with; test with errors.Is. Errors of the
// card itself (a wrong PIN, a blocked card) are passed through unchanged.
var (
	// ErrNeverOnline: the user has no record: never logged on online on
	// this host, or the record was forgotten.
	ErrNeverOnline = errors.New("offline: the user has not logged on online with a card on this host")
	// ErrUnsafe: the store's directory or the record is not the owner's
	// alone (owner, mode, symbolic link); it is not read.
	ErrUnsafe = errors.New("offline: the record store is not private to its owner")
	// ErrMalformed: the record does not decode.
	ErrMalformed = errors.New("offline: malformed record")
	// ErrExpired: the certificate is outside its validity.
	ErrExpired = errors.New("offline: the certificate has expired or is not yet valid")
	// ErrChain: the certificate no longer chains to the recorded anchors.
	ErrChain = errors.New("offline: the certificate does not chain to the recorded anchors")
	// ErrRevoked: the recorded status says the certificate is revoked.
	ErrRevoked = errors.New("offline: the recorded status says the certificate is revoked")
	// ErrNoStatus: no usable revocation status was recorded (none
	// fetched, a response that does not verify, or "unknown").
	ErrNoStatus = errors.New("offline: no usable revocation status recorded")
	// ErrStatusTooOld: the recorded status is older than the store allows.
	ErrStatusTooOld = errors.New("offline: the recorded revocation status is too old")
	// ErrPossession: the card did not prove possession of the recorded
	// certificate's key (another card, or another key under the same name).
	ErrPossession = errors.New("offline: the card does not hold the key of the recorded certificate")
)

// recordVersion is the record format; another one is refused.
const recordVersion = 1

// recordJSON is a record file. DER values are base64 (encoding/json's
// []byte); times are RFC 3339.
type recordJSON struct {
	Version     int       `json:"version"`
	User        string    `json:"user"`
	Certificate []byte    `json:"certificate"`
	Chain       [][]byte  `json:"chain"`   // the verified path between the leaf and the anchor
	Anchors     [][]byte  `json:"anchors"` // the anchor the path reached
	OCSP        []byte    `json:"ocsp"`
	OCSPAt      time.Time `json:"ocsp_at"`
	Recorded    time.Time `json:"recorded"`
}

// entry is a parsed record.
type entry struct {
	user     string
	cert     *x509.Certificate
	chain    *x509.CertPool
	anchors  *x509.CertPool
	status   Status
	recorded time.Time
}

// parsePool parses DER certificates into a pool; empty is an error when
// need is set.
func parsePool(ders [][]byte, need bool) (*x509.CertPool, error) {
	if need && len(ders) == 0 {
		return nil, errors.New("none")
	}
	pool := x509.NewCertPool()
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, err
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// parseRecord decodes a record file; trailing data is refused.
func parseRecord(b []byte) (*entry, error) {
	var r recordJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, r.Version, recordVersion)
	}
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %w", ErrMalformed, err)
	}
	chain, err := parsePool(r.Chain, false)
	if err != nil {
		return nil, fmt.Errorf("%w: chain: %w", ErrMalformed, err)
	}
	anchors, err := parsePool(r.Anchors, true)
	if err != nil {
		return nil, fmt.Errorf("%w: anchors: %w", ErrMalformed, err)
	}
	return &entry{user: r.User, cert: cert, chain: chain, anchors: anchors,
		status: Status{OCSP: r.OCSP, At: r.OCSPAt}, recorded: r.Recorded}, nil
}

// Record keeps what a successful online logon of user saw: the
// certificate, its path through intermediates (the card's chain,
// pkinit_pool; may be nil) to anchors (the realm's pkinit_anchors), and its
// revocation status from [Fetch].
// It checks all three as of status.At and replaces the user's previous
// record. A revoked status is recorded too: the next offline logon then
// fails with [ErrRevoked]. An "unknown" status is not recorded
// ([ErrNoStatus]); the previous record is left to age out.
func Record(ctx context.Context, s *Store, user string, cert *x509.Certificate, intermediates, anchors *x509.CertPool, status Status) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	path, err := verifyPath(cert, intermediates, anchors, status.At)
	if err != nil {
		return err
	}
	r, err := verifyStatus(status, cert, path[1])
	if err != nil {
		return err
	}
	if r.Status == revocation.Unknown {
		return fmt.Errorf("%w: the responder does not know the certificate", ErrNoStatus)
	}
	rec := recordJSON{Version: recordVersion, User: user, Certificate: cert.Raw,
		Anchors: [][]byte{path[len(path)-1].Raw}, OCSP: status.OCSP, OCSPAt: status.At.UTC(), Recorded: status.At.UTC()}
	for _, c := range path[1 : len(path)-1] {
		rec.Chain = append(rec.Chain, c.Raw)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	return s.write(user, append(b, '\n'))
}

// Logon is an offline logon that passed every check.
type Logon struct {
	User        string
	Certificate *x509.Certificate // the recorded certificate, whose key the card holds
	Fingerprint string            // SHA-256 of the certificate, hex
	Recorded    time.Time         // the online logon that made the record
	StatusAt    time.Time         // thisUpdate of the recorded OCSP response
	StatusAge   time.Duration     // now - StatusAt
}

// Verify decides an offline logon of user at now. It checks, in order,
// without touching the card: a record exists and is the owner's alone; the
// recorded certificate is within its validity, still chains to the
// recorded anchors, and its recorded status is good and younger than
// [Store.MaxStatusAge]. Last, signer (the card's key, which asks for the
// PIN) signs a fresh random challenge, verified with the recorded
// certificate's public key. Every attempt is audited, whatever its outcome.
func Verify(ctx context.Context, s *Store, user string, signer crypto.Signer, now time.Time) (*Logon, error) {
	l, err := verify(ctx, s, user, signer, now)
	attrs := []slog.Attr{slog.String("event", "offline-logon"), slog.String("user", user)}
	if l != nil {
		attrs = append(attrs, slog.String("cert_sha256", l.Fingerprint))
	}
	if err != nil {
		attrs = append(attrs, slog.String("outcome", "refused"), slog.String("reason", err.Error()))
		s.logger().LogAttrs(ctx, slog.LevelWarn, "offline logon refused", attrs...)
		return nil, err
	}
	attrs = append(attrs, slog.String("outcome", "success"), slog.String("reason", "the card proved possession; chain, validity and recorded status hold"),
		slog.Time("status_this_update", l.StatusAt), slog.String("status_age", l.StatusAge.Round(time.Second).String()))
	s.logger().LogAttrs(ctx, slog.LevelInfo, "offline logon", attrs...)
	return l, nil
}

// verify is Verify without the audit; the Logon it returns on failure
// carries what is known of the certificate, for the audit.
func verify(ctx context.Context, s *Store, user string, signer crypto.Signer, now time.Time) (*Logon, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	b, err := s.read(user)
	if err != nil {
		return nil, err
	}
	e, err := parseRecord(b)
	if err != nil {
		return nil, err
	}
	if e.user != user {
		return nil, fmt.Errorf("%w: the record of %q is filed under %q", ErrMalformed, e.user, user)
	}
	fp := sha256.Sum256(e.cert.Raw)
	l := &Logon{User: user, Certificate: e.cert, Fingerprint: hex.EncodeToString(fp[:]), Recorded: e.recorded}
	if now.Before(e.cert.NotBefore) || now.After(e.cert.NotAfter) {
		return l, fmt.Errorf("%w: valid %s to %s, now %s", ErrExpired, e.cert.NotBefore.UTC().Format(time.RFC3339), e.cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	path, err := verifyPath(e.cert, e.chain, e.anchors, now)
	if err != nil {
		return l, err
	}
	if err := checkStatus(l, e, path[1], now, s.age); err != nil {
		return l, err
	}
	return l, prove(s.rand, e.cert, signer, user, now)
}

// checkStatus re-verifies the recorded OCSP response and judges it at now.
func checkStatus(l *Logon, e *entry, issuer *x509.Certificate, now time.Time, maxAge time.Duration) error {
	r, err := verifyStatus(e.status, e.cert, issuer)
	if err != nil {
		return err
	}
	l.StatusAt, l.StatusAge = r.ThisUpdate, now.Sub(r.ThisUpdate)
	switch {
	case r.Status == revocation.Revoked:
		return fmt.Errorf("%w: revoked at %s (reason %d), recorded %s", ErrRevoked, r.RevokedAt.UTC().Format(time.RFC3339), r.Reason, e.status.At.UTC().Format(time.RFC3339))
	case r.Status != revocation.Good:
		return fmt.Errorf("%w: the recorded status is %v", ErrNoStatus, r.Status)
	case l.StatusAge < -maxSkew:
		return fmt.Errorf("%w: the recorded status is from %s, after now (%s): has the clock gone back?", ErrNoStatus, r.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case l.StatusAge > maxAge:
		return fmt.Errorf("%w: the status is from %s, %s old; at most %s allowed (offline_max_status_age); log on while the KDC is reachable", ErrStatusTooOld, r.ThisUpdate.UTC().Format(time.RFC3339), l.StatusAge.Round(time.Second), maxAge)
	}
	return nil
}

// challengeLabel separates the offline challenge from anything else the
// key signs (an AuthPack is DER and cannot begin with it).
const challengeLabel = "sclogon offline logon challenge v1\x00"

// prove has signer sign a fresh challenge (a label, 32 random bytes, the
// user and the time) and checks the signature with cert's public key.
func prove(rand io.Reader, cert *x509.Certificate, signer crypto.Signer, user string, now time.Time) error {
	if signer == nil {
		return fmt.Errorf("%w: no card key", ErrPossession)
	}
	nonce := make([]byte, 32)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return fmt.Errorf("offline: challenge: %w", err)
	}
	msg := fmt.Appendf([]byte(challengeLabel), "%x\x00%s\x00%s", nonce, user, now.UTC().Format(time.RFC3339Nano))
	alg, opts, digest, err := signing(cert.PublicKey, msg)
	if err != nil {
		return err
	}
	sig, err := signer.Sign(rand, digest, opts)
	if err != nil {
		// The card's own error (a wrong PIN, a blocked card) as it is.
		return fmt.Errorf("offline: the card's signature: %w", err)
	}
	if err := cert.CheckSignature(alg, msg, sig); err != nil {
		return fmt.Errorf("%w: %w", ErrPossession, err)
	}
	return nil
}

// signing picks the algorithm the challenge is signed with for a key:
// SHA-256 with PKCS #1 v1.5 (what every PIV RSA key does), ECDSA or Ed25519.
func signing(pub crypto.PublicKey, msg []byte) (x509.SignatureAlgorithm, crypto.SignerOpts, []byte, error) {
	digest := sha256.Sum256(msg)
	switch pub.(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, crypto.SHA256, digest[:], nil
	case *ecdsa.PublicKey:
		return x509.ECDSAWithSHA256, crypto.SHA256, digest[:], nil
	case ed25519.PublicKey:
		return x509.PureEd25519, crypto.Hash(0), msg, nil
	}
	return 0, nil, nil, fmt.Errorf("%w: unsupported key type %T", ErrPossession, pub)
}
