package offline_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/pam/offline"
)

// testPKI is an AD-like CA (root and issuing CA) whose OCSP responder,
// named in every certificate's AIA, runs on loopback.
type testPKI struct {
	ca    *pki.CA
	roots *x509.CertPool
	inter *x509.CertPool // the issuing CA
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), pki.InitOptions{Name: "Offline Test Root", Intermediate: true, KeyType: pki.P256, OCSPURL: "http://" + ln.Addr().String() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pki.NewResponder(ca, pki.ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- resp.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("OCSP responder: %v", err)
		}
	})
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca.Root())
	inter.AddCert(ca.Issuer())
	return &testPKI{ca: ca, roots: roots, inter: inter}
}

// user is a logon certificate and the software card that holds its key.
type user struct {
	name   string
	cert   *x509.Certificate
	key    crypto.Signer
	card   *vcard.State
	signer crypto.Signer
}

func (p *testPKI) user(t *testing.T, name string) *user {
	t.Helper()
	key := cardtest.Key(t, pki.P256)
	cert := p.issue(t, name, key)
	u := &user{name: name, cert: cert, key: key, card: cardtest.NewState(t)}
	cardtest.Put(t, u.card, card.SlotAuthentication, key, cert)
	u.signer = cardSigner(t, u.card, cert, vcard.DefaultPIN)
	return u
}

func (p *testPKI) issue(t *testing.T, name string, key crypto.Signer) *x509.Certificate {
	t.Helper()
	prof, err := pki.UserProfile(pki.User{UPN: name + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := p.ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// cardSigner is the key in slot 9A of the software card in process, which
// asks for the PIN (answered with pin) when it first signs.
func cardSigner(t *testing.T, st *vcard.State, cert *x509.Certificate, pin string) crypto.Signer {
	t.Helper()
	c, err := apdu.Open(vcard.New(st, vcard.Options{}), "in-process", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id := identity.NewCard(c, card.SlotAuthentication, cert, "test card", identity.CardOptions{
		PIN: func(string, int) (*card.PIN, error) { return card.NewPIN([]byte(pin)) },
	})
	t.Cleanup(func() { id.Close(); c.Close() })
	return id.Signer()
}

// audit collects the store's audit lines.
type audit struct{ buf bytes.Buffer }

func (a *audit) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(a.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func newStore(t *testing.T) (*offline.Store, *audit) {
	t.Helper()
	a := &audit{}
	s := offline.Open(filepath.Join(t.TempDir(), "offline"), offline.Options{Owner: os.Getuid(), Audit: slog.New(slog.NewJSONHandler(&a.buf, nil))})
	return s, a
}

// record fetches u's status from the responder and records it at now.
func (p *testPKI) record(t *testing.T, s *offline.Store, u *user, now time.Time) {
	t.Helper()
	st, err := offline.Fetch(context.Background(), http.DefaultClient, u.cert, p.inter, p.roots, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.Record(context.Background(), s, u.name, u.cert, p.inter, p.roots, st); err != nil {
		t.Fatal(err)
	}
}

func TestOfflineLogonAfterOnline(t *testing.T) {
	p := newPKI(t)
	s, a := newStore(t)
	alice := p.user(t, "alice")
	now := time.Now()
	p.record(t, s, alice, now)
	l, err := offline.Verify(context.Background(), s, alice.name, alice.signer, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Certificate.Equal(alice.cert) || l.User != "alice" || l.StatusAge < time.Hour-maxClockSkew || l.StatusAge > time.Hour+maxClockSkew {
		t.Errorf("logon %+v", l)
	}
	lines := a.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d audit lines, want 1", len(lines))
	}
	for k, want := range map[string]string{"user": "alice", "outcome": "success", "cert_sha256": l.Fingerprint, "event": "offline-logon"} {
		if lines[0][k] != want {
			t.Errorf("audit %s = %v, want %q", k, lines[0][k], want)
		}
	}
	if len(l.Fingerprint) != 64 {
		t.Errorf("fingerprint %q", l.Fingerprint)
	}
}

// maxClockSkew covers the responder's clock (the real one) against ours.
const maxClockSkew = time.Minute

func TestOfflineNeverOnline(t *testing.T) {
	p := newPKI(t)
	s, a := newStore(t)
	alice, bob := p.user(t, "alice"), p.user(t, "bob")
	// No store directory yet, then a store without bob.
	if _, err := offline.Verify(context.Background(), s, bob.name, bob.signer, time.Now()); !errors.Is(err, offline.ErrNeverOnline) {
		t.Fatalf("empty store: %v, want ErrNeverOnline", err)
	}
	p.record(t, s, alice, time.Now())
	if _, err := offline.Verify(context.Background(), s, bob.name, bob.signer, time.Now()); !errors.Is(err, offline.ErrNeverOnline) {
		t.Fatalf("bob: %v, want ErrNeverOnline", err)
	}
	lines := a.lines(t)
	if len(lines) != 2 || lines[1]["outcome"] != "refused" || lines[1]["user"] != "bob" || !strings.Contains(lines[1]["reason"].(string), "not logged on online") {
		t.Errorf("audit %v", lines)
	}
}

// A certificate revoked before the online logon is recorded as revoked;
// the offline logon is refused by the cached status.
func TestOfflineRevokedStatusCached(t *testing.T) {
	p := newPKI(t)
	s, _ := newStore(t)
	carol := p.user(t, "carol")
	p.record(t, s, carol, time.Now())
	if _, err := p.ca.Revoke(carol.cert.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	st, err := offline.Fetch(context.Background(), nil, carol.cert, p.inter, p.roots, nil, time.Now())
	if err != nil || st.Says != revocation.Revoked {
		t.Fatalf("fetch after revocation: %v, says %v", err, st.Says)
	}
	if err := offline.Record(context.Background(), s, carol.name, carol.cert, p.inter, p.roots, st); err != nil {
		t.Fatal(err)
	}
	_, err = offline.Verify(context.Background(), s, carol.name, carol.signer, time.Now())
	if !errors.Is(err, offline.ErrRevoked) {
		t.Fatalf("revoked: %v, want ErrRevoked", err)
	}
}

func TestOfflineStatusAge(t *testing.T) {
	p := newPKI(t)
	s, _ := newStore(t)
	alice := p.user(t, "alice")
	now := time.Now()
	p.record(t, s, alice, now)
	if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, now.Add(offline.DefaultMaxStatusAge+maxClockSkew)); !errors.Is(err, offline.ErrStatusTooOld) {
		t.Fatalf("after the limit: %v, want ErrStatusTooOld", err)
	}
	if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, now.Add(offline.DefaultMaxStatusAge-maxClockSkew)); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	short := offline.Open(s.Dir(), offline.Options{Owner: os.Getuid(), MaxStatusAge: time.Hour, Audit: slog.New(slog.DiscardHandler)})
	if _, err := offline.Verify(context.Background(), short, alice.name, alice.signer, now.Add(2*time.Hour)); !errors.Is(err, offline.ErrStatusTooOld) {
		t.Fatalf("offline_max_status_age 1h, 2h later: %v, want ErrStatusTooOld", err)
	}
}

func TestOfflineExpired(t *testing.T) {
	p := newPKI(t)
	s, _ := newStore(t)
	alice := p.user(t, "alice")
	p.record(t, s, alice, time.Now())
	for _, at := range []time.Time{alice.cert.NotAfter.Add(time.Second), alice.cert.NotBefore.Add(-time.Second)} {
		if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, at); !errors.Is(err, offline.ErrExpired) {
			t.Errorf("at %s: %v, want ErrExpired", at, err)
		}
	}
}

// Another card for the same name: a certificate the same CA issued to
// alice for another key. Its key cannot sign for the recorded certificate.
func TestOfflinePossession(t *testing.T) {
	p := newPKI(t)
	s, a := newStore(t)
	alice := p.user(t, "alice")
	p.record(t, s, alice, time.Now())
	key := cardtest.Key(t, pki.P256)
	cert := p.issue(t, "alice", key)
	st := cardtest.NewState(t)
	cardtest.Put(t, st, card.SlotAuthentication, key, cert)
	_, err := offline.Verify(context.Background(), s, alice.name, cardSigner(t, st, cert, vcard.DefaultPIN), time.Now())
	if !errors.Is(err, offline.ErrPossession) {
		t.Fatalf("another card: %v, want ErrPossession", err)
	}
	if l := a.lines(t); len(l) != 1 || l[0]["outcome"] != "refused" || l[0]["cert_sha256"] == nil {
		t.Errorf("audit %v", l)
	}
	// A wrong PIN is the card's error, and costs one try.
	_, err = offline.Verify(context.Background(), s, alice.name, cardSigner(t, alice.card, alice.cert, "999999"), time.Now())
	var pe *card.PINError
	if !errors.As(err, &pe) || pe.Retries != 2 || errors.Is(err, offline.ErrPossession) {
		t.Fatalf("wrong PIN: %v, want a PINError with 2 tries left", err)
	}
}

// rewrite changes one field of a user's record file in place, as its owner.
func rewrite(t *testing.T, s *offline.Store, field string, value any) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(s.Dir(), "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("record files %v: %v", files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m[field] = value
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOfflineChain(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	s, _ := newStore(t)
	alice := p.user(t, "alice")
	st, err := offline.Fetch(context.Background(), http.DefaultClient, alice.cert, p.inter, p.roots, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.Record(context.Background(), s, alice.name, alice.cert, nil, p.roots, st); !errors.Is(err, offline.ErrChain) {
		t.Fatalf("record without the intermediate: %v, want ErrChain", err)
	}
	if err := offline.Record(context.Background(), s, alice.name, alice.cert, p.inter, other.roots, st); !errors.Is(err, offline.ErrChain) {
		t.Fatalf("record under another root: %v, want ErrChain", err)
	}
	p.record(t, s, alice, time.Now())
	rewrite(t, s, "anchors", [][]byte{other.ca.Root().Raw})
	if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, time.Now()); !errors.Is(err, offline.ErrChain) {
		t.Fatalf("record with another anchor: %v, want ErrChain", err)
	}
}

// The recorded OCSP response is verified when it is recorded and when it
// is used: a response signed by another CA, or altered, is no status.
func TestOfflineStatusSignature(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	s, _ := newStore(t)
	alice := p.user(t, "alice")
	foreign := other.user(t, "alice")
	st, err := offline.Fetch(context.Background(), http.DefaultClient, foreign.cert, other.inter, other.roots, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := offline.Record(context.Background(), s, alice.name, alice.cert, p.inter, p.roots, st); !errors.Is(err, offline.ErrNoStatus) {
		t.Fatalf("record another CA's answer: %v, want ErrNoStatus", err)
	}
	p.record(t, s, alice, time.Now())
	good, err := offline.Fetch(context.Background(), http.DefaultClient, alice.cert, p.inter, p.roots, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponse(good.OCSP, nil)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Clone(good.OCSP)
	altered[bytes.Index(altered, resp.Signature)+len(resp.Signature)/2] ^= 1
	for name, v := range map[string][]byte{"altered": altered, "another CA's": st.OCSP} {
		rewrite(t, s, "ocsp", v)
		if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, time.Now()); !errors.Is(err, offline.ErrNoStatus) {
			t.Errorf("%s response: %v, want ErrNoStatus", name, err)
		}
	}
}

// A record a local user could have planted or altered is not read.
func TestOfflineUnsafeRecord(t *testing.T) {
	p := newPKI(t)
	alice := p.user(t, "alice")
	for _, tc := range []struct {
		name  string
		alter func(t *testing.T, dir, file string)
		root  bool
	}{
		{"file mode 0644", func(t *testing.T, _, f string) { chmod(t, f, 0o644) }, false},
		{"file mode 0400", func(t *testing.T, _, f string) { chmod(t, f, 0o400) }, false},
		{"directory mode 0755", func(t *testing.T, d, _ string) { chmod(t, d, 0o755) }, false},
		{"directory mode 0777", func(t *testing.T, d, _ string) { chmod(t, d, 0o777) }, false},
		{"symbolic link", func(t *testing.T, d, f string) {
			target := filepath.Join(d, "elsewhere")
			if err := os.Rename(f, target); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, f); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"file owned by nobody", func(t *testing.T, _, f string) { chown(t, f) }, true},
		{"directory owned by nobody", func(t *testing.T, d, _ string) { chown(t, d) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Getuid() != 0 {
				harness.Missing(t, "giving a file to another user needs root")
			}
			s, _ := newStore(t)
			p.record(t, s, alice, time.Now())
			if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, time.Now()); err != nil {
				t.Fatalf("before: %v", err)
			}
			files, _ := filepath.Glob(filepath.Join(s.Dir(), "*.json"))
			if len(files) != 1 {
				t.Fatalf("record files %v", files)
			}
			tc.alter(t, s.Dir(), files[0])
			if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, time.Now()); !errors.Is(err, offline.ErrUnsafe) {
				t.Fatalf("%s: %v, want ErrUnsafe", tc.name, err)
			}
		})
	}
}

func chmod(t *testing.T, name string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}

// nobody is the uid of the nobody account on Debian.
const nobody = 65534

func chown(t *testing.T, name string) {
	t.Helper()
	if err := os.Lchown(name, nobody, -1); err != nil {
		t.Fatal(err)
	}
}

// Record writes the file 0600 in a 0700 directory, and the file holds no
// secret: the certificate, its path and the OCSP response.
func TestOfflineRecordFile(t *testing.T) {
	p := newPKI(t)
	s, _ := newStore(t)
	alice := p.user(t, "alice")
	p.record(t, s, alice, time.Now())
	p.record(t, s, alice, time.Now()) // replaces, leaving no temporary file
	ents, err := os.ReadDir(s.Dir())
	if err != nil || len(ents) != 1 {
		t.Fatalf("store holds %v: %v", ents, err)
	}
	for name, want := range map[string]os.FileMode{s.Dir(): 0o700, filepath.Join(s.Dir(), ents[0].Name()): 0o600} {
		st, err := os.Stat(name)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", name, st.Mode(), err, want)
		}
	}
	if err := s.Forget(alice.name); err != nil {
		t.Fatal(err)
	}
	if _, err := offline.Verify(context.Background(), s, alice.name, alice.signer, time.Now()); !errors.Is(err, offline.ErrNeverOnline) {
		t.Fatalf("forgotten: %v, want ErrNeverOnline", err)
	}
}
