package pam_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
	"github.com/sclogon/sclogon/pam"
	"github.com/sclogon/sclogon/pam/offline"
)

// ocspCA is a CA whose certificates name its OCSP responder (AIA), served
// on loopback: what offline logon records its answers from.
func ocspCA(t *testing.T) *pki.CA {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), pki.InitOptions{Name: "Offline Logon Test CA", KeyType: pki.P256, OCSPURL: "http://" + ln.Addr().String() + "/"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pki.NewResponder(ca, pki.ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: resp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ca
}

// softCard is a logon certificate from ca for p's account (UPN and SID),
// its key in slot 9A of a software card in process.
type softCard struct {
	cert *x509.Certificate
	st   *vcard.State
}

func newSoftCard(t *testing.T, ca *pki.CA, p person) softCard {
	t.Helper()
	key, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := pki.UserProfile(pki.User{UPN: p.name + "@example.com", SID: domainSID(p.rid),
		ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(byte(card.SlotAuthentication), key, vcard.PINPolicyOnce); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(byte(card.SlotAuthentication), cert.Raw); err != nil {
		t.Fatal(err)
	}
	return softCard{cert: cert, st: st}
}

// Readers and Open make the card a card.Provider: one reader, in process.
func (c softCard) Readers() ([]string, error) { return []string{"In-process 00"}, nil }

func (c softCard) Open(reader string) (card.Card, error) {
	return apdu.Open(vcard.New(c.st, vcard.Options{}), reader, apdu.Options{})
}

// startOCSPKDC is the fixture's KDC that also trusts ca and checks every
// client certificate's status with its responder, failing closed. It
// returns the KDC's address and a keytab with its host key.
func (f *realmFixture) startOCSPKDC(t *testing.T, ca *pki.CA) (addr, keytab string) {
	t.Helper()
	dir, err := ldif.Read(strings.NewReader(f.directoryLDIF()))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kdc.New(kdc.Config{
		Realm: realm, StateDir: t.TempDir(), Key: f.kdcKey, Directory: dir,
		Certificate: []*x509.Certificate{f.kdcCert, f.ca.Issuer()},
		Anchors:     []*x509.Certificate{f.ca.Root(), ca.Root()},
		NTAuth:      []*x509.Certificate{f.ca.Issuer(), ca.Issuer()},
		Mapping:     mapping.Policy{SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP:        kdc.OCSPHard,
		Services:    []string{host + "@" + realm},
	}, kdc.Options{Rand: rand.Reader, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r, err := kdc.Start(k, []string{"127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	kt, err := k.Keys().Keytab(host + "@" + realm)
	if err != nil {
		t.Fatal(err)
	}
	return r.Addr(), writeKeytab(t, kt)
}

// deadAddr is a loopback address where no KDC listens: the KDC stopped.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// infoConv answers the PIN prompt with pam_exec's authtok and keeps what
// the logon tells the person.
type infoConv struct {
	*pam.Authtok
	infos []string
}

func (c *infoConv) Info(msg string) { c.infos = append(c.infos, msg) }

// offlineRealm is the PAM side of the test: configurations for the KDC up
// and down, and the offline store with its audit lines.
type offlineRealm struct {
	up, down string // pam.conf paths
	store    string
	audit    bytes.Buffer
}

type attempt struct {
	res   *pam.Result
	err   error
	infos []string
}

// logon logs p on with c's card at now, answering the PIN prompt with pin.
func (o *offlineRealm) logon(t *testing.T, conf string, c softCard, p person, pin string, now time.Time) attempt {
	t.Helper()
	cfg, err := pam.LoadConfig(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := &infoConv{Authtok: pam.NewAuthtok([]byte(pin))}
	l := &pam.Logon{Config: cfg, Identities: pam.CardSource{Provider: c, Policy: cfg.Policy}, Now: func() time.Time { return now },
		Offline: offline.Open(o.store, offline.Options{Owner: os.Getuid(), MaxStatusAge: cfg.OfflineMaxStatusAge, Audit: slog.New(slog.NewJSONHandler(&o.audit, nil))}),
		Trace:   func(format string, a ...any) { t.Logf("trace: "+format, a...) }}
	acct := pam.Account{Name: p.name, UID: os.Getuid(), GID: os.Getgid()}
	res, err := l.Run(context.Background(), pam.Request{Account: acct, Conversation: conv})
	return attempt{res: res, err: err, infos: conv.infos}
}

// lastAudit is the last audit line.
func (o *offlineRealm) lastAudit(t *testing.T) map[string]any {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(o.audit.Bytes()), []byte("\n"))
	var m map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &m); err != nil {
		t.Fatalf("audit %q: %v", o.audit.String(), err)
	}
	return m
}

// TestOfflineLogonThroughPAM: with the KDC stopped, a user who logged on
// with the software card before logs on offline (told so, audited, no
// ccache); one who did not, one whose certificate's revocation was cached
// by a refused online logon, one whose cached status is older than
// offline_max_status_age, and one with another card for the same name are
// refused; a wrong PIN costs a try.
func TestOfflineLogonThroughPAM(t *testing.T) {
	f := getFixture(t)
	ca := ocspCA(t)
	addr, keytab := f.startOCSPKDC(t, ca)
	o := &offlineRealm{store: filepath.Join(t.TempDir(), "offline")}
	ccache := filepath.Join(t.TempDir(), "krb5cc_%{username}")
	config := func(addr, keytab string, extra ...string) string {
		c := f.writeConfig(t, addr, keytab, ccache, extra...)
		appendFile(t, c, "[realms]\n  "+realm+" = {\n    pkinit_anchors = FILE:"+ca.RootPath()+"\n  }\n")
		return c
	}
	on := []string{"offline = true", "offline_dir = " + o.store, "offline_max_status_age = 24h"}
	o.up, o.down = config(addr, keytab, on...), config(deadAddr(t), keytab, on...)
	alice, carol := newSoftCard(t, ca, f.user), newSoftCard(t, ca, f.other)
	now := time.Now()

	a := o.logon(t, o.down, alice, f.user, vcard.DefaultPIN, now)
	if !errors.Is(a.err, offline.ErrNeverOnline) || pam.ResultCode(a.err) != pam.AuthinfoUnavail {
		t.Fatalf("offline before any online logon: %v (%s), want ErrNeverOnline, PAM_AUTHINFO_UNAVAIL", a.err, pam.ResultCode(a.err))
	}
	for _, u := range []struct {
		c softCard
		p person
	}{{alice, f.user}, {carol, f.other}} {
		a := o.logon(t, o.up, u.c, u.p, vcard.DefaultPIN, now)
		if a.err != nil || a.res.Offline {
			t.Fatalf("online logon of %s: %v", u.p.name, a.err)
		}
		os.Remove(a.res.CCache)
	}

	a = o.logon(t, o.down, alice, f.user, vcard.DefaultPIN, now.Add(time.Hour))
	if a.err != nil || !a.res.Offline || a.res.CCache != "" || !slices.Contains(a.infos, pam.OfflineMessage) {
		t.Fatalf("offline logon after an online one: %+v, %v, told %q", a.res, a.err, a.infos)
	}
	if _, err := os.Stat(strings.ReplaceAll(ccache, "%{username}", f.user.name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the offline logon left a ccache: %v", err)
	}
	if m := o.lastAudit(t); m["user"] != f.user.name || m["outcome"] != "success" || m["cert_sha256"] == nil {
		t.Errorf("audit %v", m)
	}

	t.Run("status_too_old", func(t *testing.T) {
		a := o.logon(t, o.down, alice, f.user, vcard.DefaultPIN, now.Add(25*time.Hour))
		if !errors.Is(a.err, offline.ErrStatusTooOld) || pam.ResultCode(a.err) != pam.AuthErr {
			t.Errorf("25 h after the online logon: %v, want ErrStatusTooOld", a.err)
		}
	})
	t.Run("another_card", func(t *testing.T) {
		a := o.logon(t, o.down, newSoftCard(t, ca, f.user), f.user, vcard.DefaultPIN, now.Add(time.Hour))
		if !errors.Is(a.err, offline.ErrPossession) || pam.ResultCode(a.err) != pam.AuthErr {
			t.Errorf("another card for %s: %v, want ErrPossession", f.user.name, a.err)
		}
		if m := o.lastAudit(t); m["outcome"] != "refused" {
			t.Errorf("audit %v", m)
		}
	})
	t.Run("wrong_pin", func(t *testing.T) {
		a := o.logon(t, o.down, alice, f.user, "654321", now.Add(time.Hour))
		var pe *card.PINError
		if !errors.As(a.err, &pe) || pe.Retries != 2 || pam.ResultCode(a.err) != pam.AuthErr {
			t.Errorf("offline with a wrong PIN: %v, want the card's refusal with 2 tries left", a.err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if _, err := ca.Revoke(carol.cert.SerialNumber, pki.KeyCompromise); err != nil {
			t.Fatal(err)
		}
		// A KDC started now: the first one cached carol's good answer.
		addr, keytab := f.startOCSPKDC(t, ca)
		a := o.logon(t, config(addr, keytab, on...), carol, f.other, vcard.DefaultPIN, now)
		var kerr *kinit.KDCError
		if !errors.As(a.err, &kerr) || kerr.Code != krberror.RevokedCertificate {
			t.Fatalf("online logon after the revocation: %v, want KDC_ERR_REVOKED_CERTIFICATE", a.err)
		}
		a = o.logon(t, o.down, carol, f.other, vcard.DefaultPIN, now.Add(time.Minute))
		if !errors.Is(a.err, offline.ErrRevoked) || pam.ResultCode(a.err) != pam.AuthErr {
			t.Errorf("offline after the revocation was cached: %v, want ErrRevoked", a.err)
		}
	})
	t.Run("offline_off", func(t *testing.T) {
		a := o.logon(t, config(deadAddr(t), keytab, "offline_dir = "+o.store), alice, f.user, vcard.DefaultPIN, now)
		var terr *transport.Error
		if !errors.As(a.err, &terr) || errors.Is(a.err, offline.ErrNeverOnline) || a.res != nil {
			t.Errorf("offline logon off, KDC down: %v, want the transport error alone", a.err)
		}
	})
}

// Offline logon is off unless offline = true; its keys are checked.
func TestOfflineConfig(t *testing.T) {
	f := getFixture(t)
	load := func(extra ...string) (*pam.Config, error) {
		return pam.LoadConfig(f.writeConfig(t, "127.0.0.1:88", "/nonexistent", "/tmp/krb5cc_%{uid}", extra...), nil)
	}
	cfg, err := load()
	if err != nil || cfg.Offline || cfg.OfflineDir != offline.DefaultDir || cfg.OfflineMaxStatusAge != offline.DefaultMaxStatusAge {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = load("offline = yes", "offline_dir = /srv/offline", "offline_max_status_age = 3h")
	if err != nil || !cfg.Offline || cfg.OfflineDir != "/srv/offline" || cfg.OfflineMaxStatusAge != 3*time.Hour {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	for _, bad := range []string{"offline = sometimes", "offline_max_status_age = 0s", "offline_max_status_age = a day"} {
		if _, err := load(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
