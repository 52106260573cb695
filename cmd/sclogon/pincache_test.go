//go:build cgo

package main

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// TestKinitPINCacheUnderPCSCD: `sclogon kinit --pin-cache` and krb5.conf's
// sclogon_pin_cache with the software card under pcscd and MIT's KDC. With
// RSA key transport the key is used twice (sign, then decrypt the reply):
// under normal caching one PIN on stdin, verified once, serves both; under
// none each use asks, so one line is not enough and two are.
func TestKinitPINCacheUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	e := newKinitEnv(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ca, err := pki.Open(filepath.Join(e.dir, "ca"), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := cardtest.NewState(t)
	key := cardtest.Key(t, pki.RSA2048)
	prof := cardtest.LogonProfile("alice", "")
	prof.SAN.UPNs = []string{"alice@EXAMPLE.COM"}
	cardtest.Put(t, st, card.SlotAuthentication, key, (&cardtest.PKI{CA: ca}).Issue(t, key, prof))
	var mu sync.Mutex
	verifies := 0
	soft := vcard.New(st, vcard.Options{Generic: true, Observe: func(x vcard.Exchange) {
		if x.INS == 0x20 && x.Nc > 0 {
			mu.Lock()
			verifies++
			mu.Unlock()
		}
	}})
	serveSoftCard(t, soft, p.CardAddrs[0])
	kinit := func(stdin string, args ...string) (int, int, string) {
		t.Helper()
		mu.Lock()
		before := verifies
		mu.Unlock()
		cc := filepath.Join(t.TempDir(), "cc")
		code, _, stderr := runKinitCmd(t, stdin, append([]string{"--pin-stdin", "--reader", p.Readers[0], "--rsa-key-transport", "-c", "FILE:" + cc}, args...)...)
		mu.Lock()
		defer mu.Unlock()
		return code, verifies - before, stderr
	}
	pin := vcard.DefaultPIN + "\n"
	// The card is kept from the signature to the decryption: the PIN
	// verified once serves both.
	if code, v, stderr := kinit(pin); code != exitOK || v != 1 {
		t.Fatalf("normal caching, one PIN: exit %d, %d VERIFY, want 1:\n%s", code, v, stderr)
	}
	if code, v, stderr := kinit(pin, "--pin-cache", "none"); code != exitFail || v != 1 || !strings.Contains(stderr, "stdin") {
		t.Fatalf("--pin-cache none, one PIN: exit %d, %d VERIFY, want a failure asking for the second:\n%s", code, v, stderr)
	}
	if code, v, stderr := kinit(pin+pin, "--pin-cache", "none"); code != exitOK || v != 2 {
		t.Fatalf("--pin-cache none, two PINs: exit %d, %d VERIFY:\n%s", code, v, stderr)
	}
	writeConf(t, filepath.Join(t.TempDir(), "krb5.conf"), e.mit.Config, "sclogon_pin_cache = always-prompt")
	if code, v, stderr := kinit(pin); code != exitFail || v != 1 {
		t.Fatalf("sclogon_pin_cache = always-prompt, one PIN: exit %d, %d VERIFY:\n%s", code, v, stderr)
	}
	if code, _, stderr := kinit(pin, "--pin-cache", "forever"); code != exitUsage || !strings.Contains(stderr, `"forever" for flag -pin-cache`) {
		t.Fatalf("--pin-cache forever: exit %d:\n%s", code, stderr)
	}
}
