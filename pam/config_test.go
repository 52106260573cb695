package pam

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/selection"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	krb5 := writeFile(t, dir, "krb5.conf", "[libdefaults]\n default_realm = EXAMPLE.COM\n")
	conf := writeFile(t, dir, "pam.conf", "[pam]\n krb5_config = "+krb5+"\n kdc = 127.0.0.1\n")
	c, err := LoadConfig(conf, func() (string, error) { return "WS1.Example.com", nil })
	if err != nil {
		t.Fatal(err)
	}
	if c.Realm != "EXAMPLE.COM" || c.Keytab != DefaultKeytab || c.Identity != "card" || c.HostPrincipal.String() != "host/ws1.example.com@EXAMPLE.COM" {
		t.Errorf("config %+v", c)
	}
	if len(c.KDCs) != 1 || c.KDCs[0].Addr != "127.0.0.1:88" {
		t.Errorf("KDCs %v", c.KDCs)
	}
	if got := c.CCachePath(Account{Name: "alice", UID: 1001, GID: 100}); got != "/tmp/krb5cc_1001" {
		t.Errorf("ccache %q", got)
	}
	if c.CertCache != DefaultCertCache || c.CardWait != 0 {
		t.Errorf("cert cache %q, card wait %v: want %q, 0", c.CertCache, c.CardWait, DefaultCertCache)
	}
	if !c.PerSessionCCache || c.PINCache != (card.PINCachePolicy{Mode: card.PINCacheNormal}) {
		t.Errorf("per-session ccache %v, PIN cache %v: want true (no ccache key), normal", c.PerSessionCCache, c.PINCache)
	}
	conf = writeFile(t, dir, "nocache.conf", "[pam]\n krb5_config = "+krb5+"\n cert_cache = none\n card_wait = 30s\n pin_cache = timed:300\n ccache = FILE:/tmp/krb5cc_%{username}\n")
	if c, err = LoadConfig(conf, func() (string, error) { return "ws1.example.com", nil }); err != nil {
		t.Fatal(err)
	}
	if c.CertCache != "" || c.CardWait != 30*time.Second {
		t.Errorf("cert_cache = none, card_wait = 30s: %q, %v", c.CertCache, c.CardWait)
	}
	if c.PerSessionCCache || c.PINCache != (card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: 300 * time.Second}) {
		t.Errorf("ccache set, pin_cache = timed:300: per-session %v, PIN cache %v", c.PerSessionCCache, c.PINCache)
	}
	for v, want := range map[string]card.PINCacheMode{"none": card.PINCacheNone, "always-prompt": card.PINCacheAlwaysPrompt, "normal": card.PINCacheNormal} {
		conf = writeFile(t, dir, "pin.conf", "[pam]\n krb5_config = "+krb5+"\n pin_cache = "+v+"\n")
		if c, err = LoadConfig(conf, func() (string, error) { return "ws1.example.com", nil }); err != nil || c.PINCache.Mode != want {
			t.Errorf("pin_cache = %s: %v, %v", v, c.PINCache, err)
		}
	}
	conf = writeFile(t, dir, "pin.conf", "[pam]\n krb5_config = "+krb5+"\n pin_cache = sometimes\n")
	if _, err := LoadConfig(conf, func() (string, error) { return "ws1.example.com", nil }); !errors.Is(err, card.ErrPINCachePolicy) {
		t.Errorf("pin_cache = sometimes: %v, want card.ErrPINCachePolicy", err)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	none := filepath.Join(dir, "absent.conf")
	for _, tc := range []struct{ body, want string }{
		{"[pam]\n realm = X\n krb5_config = " + none + "\n keytabs = /k\n", `unknown key "keytabs"`},
		{"[pam]\n krb5_config = " + none + "\n", "no realm"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n ccache = KCM:\n", "want FILE:/absolute/path"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n timeout = soon\n", "want a duration"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n card_wait = -1s\n", "want a duration"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n retain_after_close = maybe\n", "retain_after_close = \"maybe\": want true or false"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n offline = 1x\n", "offline = \"1x\": want true or false"},
		{"[pam]\n realm = X\n krb5_config = " + none + "\n pin_cache = timed:0\n", "pin_cache"},
	} {
		p := writeFile(t, dir, "pam.conf", tc.body)
		_, err := LoadConfig(p, func() (string, error) { return "h.example.com", nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestHintFromPAMUser(t *testing.T) {
	c := &Config{Realm: "EXAMPLE.COM"}
	for _, u := range []string{"", "host/x", `DOM\alice`, "alice@", "a b"} {
		if _, err := c.Hint(u); !errors.Is(err, selection.ErrHint) {
			t.Errorf("PAM_USER %q: %v, want selection.ErrHint", u, err)
		}
	}
	for u, want := range map[string]string{
		"alice":             "alice@EXAMPLE.COM",
		`EXAMPLE\alice`:     "alice@EXAMPLE.COM",
		"alice@example.com": "alice@EXAMPLE.COM",
		"alice@EVIL.COM":    "alice@EVIL.COM@EXAMPLE.COM", // an enterprise name: the KDC decides
	} {
		h, err := c.Hint(u)
		if err != nil || h.Principal.String() != want || h.Enterprise() != (u == "alice@EVIL.COM") {
			t.Errorf("PAM_USER %q: %s (enterprise %v), %v; want %s", u, h.Principal, h.Enterprise(), err, want)
		}
	}
}

// presence is a reader list a test changes.
type presence struct {
	mu      sync.Mutex
	readers []string
	err     error
}

func (p *presence) Readers() ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.readers), p.err
}

func (p *presence) set(err error, readers ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.readers, p.err = readers, err
}

func TestWatchActsOnceTheWatchedCardLeaves(t *testing.T) {
	for _, tc := range []struct {
		name    string
		removal func(p *presence)
	}{
		{"removed", func(p *presence) { p.set(nil, "Other Reader") }},
		{"pcscd gone", func(p *presence) { p.set(errors.New("pcsc: the PC/SC daemon is not running")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &presence{}
			removed := make(chan string, 1)
			w := &Watch{Presence: p, Reader: "Virtual", Interval: time.Millisecond, Once: true,
				OnRemove: func(_ context.Context, r string) error { removed <- r; return nil }}
			done := make(chan error, 1)
			go func() { done <- w.Run(context.Background()) }()
			time.Sleep(10 * time.Millisecond) // no card yet: nothing happens
			p.set(nil, "Other Reader", "Virtual PCD 00 00")
			time.Sleep(10 * time.Millisecond)
			select {
			case r := <-removed:
				t.Fatalf("acted on %q while the card is in", r)
			default:
			}
			tc.removal(p)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if r := <-removed; r != "Virtual PCD 00 00" {
				t.Errorf("removal from %q", r)
			}
		})
	}
}

func TestDestroyCCache(t *testing.T) {
	p := filepath.Join(t.TempDir(), "krb5cc_1")
	if err := os.WriteFile(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := DestroyCCache(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("still there: %v", err)
	}
	if err := DestroyCCache(p); err != nil {
		t.Errorf("a missing ccache: %v", err)
	}
}
