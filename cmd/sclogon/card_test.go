//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// TestKinitCardMIT is issue 6's card acceptance and the CLI half of issue
// 5's, in one pcscd and one MIT krb5kdc session: `sclogon kinit` with the
// software card under pcscd gets TGTs with DH-2048, DH-4096 and RSA key
// transport (MIT klist lists each ccache, MIT kvno gets a service ticket
// from it) through the generic path, and again through piv-go; the PIN is
// asked once per kinit (one line on stdin) although RSA key transport uses
// the card twice: piv-go verifies once, the generic path twice, as it
// releases the card and resets its PIN while the KDC answers (issue 19);
// the certificate cache cuts a second logon's APDUs by half or more;
// `sclogon certs` lists every certificate with the rule that rejected it;
// a wrong PIN is one try and a sentence.
func TestKinitCardMIT(t *testing.T) {
	p := harness.StartPCSCD(t) // first: the KDC's ports must not take vpcd's
	e := newKinitEnv(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ca, err := pki.Open(filepath.Join(e.dir, "ca"), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	issuing := &cardtest.PKI{CA: ca}
	newState := func() *vcard.State {
		st := cardtest.NewState(t)
		key := cardtest.Key(t, pki.RSA2048)
		good := cardtest.LogonProfile("alice", "")
		good.SAN.UPNs = []string{"alice@EXAMPLE.COM"}
		cardtest.Put(t, st, card.SlotAuthentication, key, issuing.Issue(t, key, good))
		// A signature certificate and an e-mail certificate: listed, not usable.
		sigKey := cardtest.Key(t, pki.P256)
		cardtest.Put(t, st, card.SlotSignature, sigKey, issuing.Issue(t, sigKey, good))
		mail := good
		mail.ExtKeyUsage = nil
		mail.SAN.UPNs, mail.SAN.Emails = nil, []string{"alice@example.com"}
		cardtest.Put(t, st, card.SlotKeyManagement, sigKey, issuing.Issue(t, sigKey, mail))
		return st
	}
	type served struct {
		card     *vcard.Card
		mu       sync.Mutex
		verifies int
	}
	serve := func(generic bool, addr string) *served {
		s := &served{}
		s.card = vcard.New(newState(), vcard.Options{Generic: generic, Observe: func(x vcard.Exchange) {
			if x.INS == 0x20 && x.Nc > 0 {
				s.mu.Lock()
				s.verifies++
				s.mu.Unlock()
			}
		}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.card.ServeVPCD(ctx, addr, nil) }()
		t.Cleanup(func() { cancel(); <-done })
		return s
	}
	count := func(s *served) int { s.mu.Lock(); defer s.mu.Unlock(); return s.verifies }
	generic, yubi := serve(true, p.CardAddrs[0]), serve(false, p.CardAddrs[1])
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, _ := (pcsc.Provider{}).Readers()
		if len(rs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd lists %q", rs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// sclogon certs: every certificate, usable or not, and why.
	var out, errOut strings.Builder
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, []string{"certs", "--reader", p.Readers[0]}); code != exitOK {
		t.Fatalf("sclogon certs: exit %d:\n%s", code, errOut.String())
	}
	t.Logf("sclogon certs:\n%s", out.String())
	for _, want := range []string{"9a  alice@EXAMPLE.COM", "usable for logon", "rejected (signature-slot)", "[allow: sclogon_allow_signature_keys]", "9d  alice@example.com", "rejected (upn)", "rejected (eku)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sclogon certs lacks %q", want)
		}
	}
	out.Reset()
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, []string{"certs", "--json", "--reader", p.Readers[0]}); code != exitOK {
		t.Fatalf("sclogon certs --json: exit %d", code)
	}
	var listed []certsJSON
	if err := json.Unmarshal([]byte(out.String()), &listed); err != nil || len(listed) != 1 || len(listed[0].Certificates) != 3 || !listed[0].Certificates[0].Usable || listed[0].Certificates[1].Usable {
		t.Fatalf("certs --json: %v\n%s", err, out.String())
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the logons start cold

	kinit := func(s *served, backend, reader string, pin string, args ...string) (apdus uint64, verifies int, stderr string, code int) {
		t.Helper()
		cc := filepath.Join(t.TempDir(), "cc")
		before, vb := s.card.APDUs(), count(s)
		code, _, stderr = runKinitCmd(t, pin+"\n", append([]string{"--pin-stdin", "--reader", reader, "--card-backend", backend, "-c", "FILE:" + cc}, args...)...)
		if strings.Contains(stderr, pin) {
			t.Errorf("the PIN is in the output:\n%s", stderr)
		}
		if code == exitOK {
			klist := harness.Run(t, e.mit.Command(t, "klist", "-c", "FILE:"+cc))
			if !strings.Contains(klist, "alice@EXAMPLE.COM") || !strings.Contains(klist, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
				t.Errorf("klist:\n%s", klist)
			}
			kvno := harness.Run(t, e.mit.Command(t, "kvno", "-c", "FILE:"+cc, "host/svc.example.com"))
			if !strings.Contains(kvno, "host/svc.example.com@EXAMPLE.COM: kvno =") {
				t.Errorf("kvno:\n%s", kvno)
			}
		}
		return s.card.APDUs() - before, count(s) - vb, stderr, code
	}
	for _, tc := range []struct {
		backend string
		s       *served
		reader  string
	}{
		{"generic", generic, p.Readers[0]},
		{"piv-go", yubi, p.Readers[1]},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			var apdus []uint64
			for _, kx := range [][]string{{"--dh", "2048"}, {"--dh", "4096"}, {"--rsa-key-transport"}} {
				n, v, stderr, code := kinit(tc.s, tc.backend, tc.reader, vcard.DefaultPIN, kx...)
				if code != exitOK {
					t.Fatalf("sclogon kinit %v: exit %d:\n%s", kx, code, stderr)
				}
				// RSA key transport too: the card is kept from the
				// signature to the decryption, the PIN verified once.
				if v != 1 {
					t.Errorf("kinit %v sent %d VERIFY, want 1", kx, v)
				}
				apdus = append(apdus, n)
			}
			t.Logf("%s backend: APDUs per sclogon kinit: cold (DH-2048) %d, warm (DH-4096) %d, warm (RSA key transport: sign + decrypt) %d", tc.backend, apdus[0], apdus[1], apdus[2])
			if apdus[1]*2 > apdus[0] {
				t.Errorf("the cache did not halve the APDUs of a second logon: cold %d, warm %d", apdus[0], apdus[1])
			}
			// A wrong PIN: one try, a sentence with the count, no retry.
			_, v, stderr, code := kinit(tc.s, tc.backend, tc.reader, "999999")
			if code != exitFail || v != 1 || !strings.Contains(stderr, "sclogon: error: the card refused the PIN (2 tries left)") ||
				!strings.Contains(stderr, "sclogon: hint: ") || !strings.Contains(stderr, "sclogon pin unblock") {
				t.Errorf("wrong PIN: exit %d, %d VERIFY:\n%s", code, v, stderr)
			}
			if _, _, stderr, code := kinit(tc.s, tc.backend, tc.reader, vcard.DefaultPIN); code != exitOK {
				t.Fatalf("right PIN after a wrong one: %s", stderr)
			}
			// sclogon pin: status, change (and back), unblock.
			pinCmd := func(stdin string, args ...string) string {
				t.Helper()
				var out, errOut strings.Builder
				args = append(append([]string{"pin"}, args...), "--reader", tc.reader, "--card-backend", tc.backend, "--pin-stdin")
				if code := run(context.Background(), stdio{in: strings.NewReader(stdin), out: &out, errOut: &errOut}, args); code != exitOK {
					t.Fatalf("sclogon %v: exit %d:\n%s", args, code, errOut.String())
				}
				return out.String() + errOut.String()
			}
			if out := pinCmd("", "status"); !strings.Contains(out, "3 PIN tries left") {
				t.Errorf("pin status: %s", out)
			}
			pinCmd(vcard.DefaultPIN+"\n654321\n", "change")
			pinCmd(vcard.DefaultPUK+"\n"+vcard.DefaultPIN+"\n", "unblock")
			if out := pinCmd("", "status"); !strings.Contains(out, "3 PIN tries left") {
				t.Errorf("pin status after unblock: %s", out)
			}
		})
	}
}
