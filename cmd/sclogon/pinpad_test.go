//go:build cgo

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// runAsync runs 'sclogon args' in the background with empty stdin; its
// stderr is readable while it runs.
func runAsync(args ...string) (*harness.Buffer, <-chan int) {
	var stderr harness.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), stdio{in: strings.NewReader(""), out: &stderr, errOut: &stderr}, args)
	}()
	return &stderr, done
}

// serveIn serves st (a YubiKey-like card) at addr until the test ends, and
// waits for pcscd to see it in reader. The card's state is read through
// its Snapshot while it is served.
func serveIn(t *testing.T, st *vcard.State, addr, reader string) *vcard.Card {
	t.Helper()
	c := vcard.New(st, vcard.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.ServeVPCD(ctx, addr, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	// A bound, not a speed: SCardGetStatusChange returns when the card
	// has answered its reset.
	if _, err := (pcsc.Provider{Wait: 10 * time.Second, Reader: reader}).Readers(); err != nil {
		t.Fatalf("the card did not come into %s: %v", reader, err)
	}
	return c
}

// TestPINPadTriesAndChange is issue 19's PIN-pad acceptance through the
// commands, for both card backends, with our KDC under pcscd: kinit says
// the tries left before the person types on the reader (and a wrong PIN
// typed there costs one try, shown on the next logon); 'sclogon pin
// change' and 'sclogon pin unblock' have the PINs and the PUK typed on the
// reader and ask the host for nothing (stdin is empty and there is no
// terminal), a wrong PUK costing one of its tries; and with
// --reader, a wait for a card that ends says so, not "no card in the
// reader".
func TestPINPadTriesAndChange(t *testing.T) {
	p := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true}) // first: the KDC's ports must not take vpcd's
	s := startSIDKDC(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	pad := p.PINPad

	// The wait ends with no card in the named reader.
	code, _, stderr := runKinitCmd(t, "", "--wait", "1s", "--reader", pad.Reader, "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"))
	if code != exitFail || !strings.Contains(stderr, "no smart card found: none was inserted while sclogon waited") || strings.Contains(stderr, "connect") {
		t.Fatalf("--wait 1s --reader, no card: exit %d:\n%s", code, stderr)
	}

	// One YubiKey-like card (piv-go needs its GET VERSION; the generic
	// client takes any PIV card) stays in the reader for both backends.
	st := cardtest.NewState(t)
	key, cert := issueFor(t, s.ca, pki.UserProfile, pki.User{UPN: "alice@EXAMPLE.COM", SID: s.sid})
	cardtest.Put(t, st, card.SlotAuthentication, key, cert)
	vc := serveIn(t, st, pad.CardAddr, pad.Reader)
	for _, backend := range []string{"piv-go", "generic"} {
		kinit := func(pin string, tries string) (int, string) {
			t.Helper()
			cc := filepath.Join(t.TempDir(), "cc")
			out, done := runAsync("kinit", "--card-backend", backend, "--reader", pad.Reader, "-c", "FILE:"+cc)
			told := "the PIN for alice@EXAMPLE.COM is asked on the reader (" + tries + ")"
			typeHere := `enter the PIN on the reader "` + pad.Reader + `"`
			waitFor(t, out, typeHere)
			if i := strings.Index(out.String(), told); i < 0 || i > strings.Index(out.String(), typeHere) {
				t.Fatalf("%s: the tries left are not told before the reader waits:\n%s", backend, out.String())
			}
			pad.Type(t, pin)
			return exitOf(t, out, done), out.String()
		}

		if code, out := kinit("999999", "3 tries left"); code != exitFail || !strings.Contains(out, "the card refused the PIN (2 tries left)") || snap(t, vc).PINTriesLeft() != 2 {
			t.Fatalf("%s: a wrong PIN on the pad: exit %d, %d tries left:\n%s", backend, code, snap(t, vc).PINTriesLeft(), out)
		}
		if code, out := kinit(vcard.DefaultPIN, "2 tries left"); code != exitOK || snap(t, vc).PINTriesLeft() != 3 {
			t.Fatalf("%s: the right PIN on the pad: exit %d, %d tries left:\n%s", backend, code, snap(t, vc).PINTriesLeft(), out)
		}
		keyTransportOnePIN(t, backend, pad)

		// 'sclogon pin change' on the pad: nothing is asked on the host.
		const newPIN = "87654321"
		out, done := runAsync("pin", "change", "--card-backend", backend, "--reader", pad.Reader)
		waitFor(t, out, `on the PIN pad of the reader "`+pad.Reader+`", type the current PIV PIN (3 tries left)`)
		pad.Type(t, vcard.DefaultPIN, newPIN, newPIN)
		if code := exitOf(t, out, done); code != exitOK || !strings.Contains(out.String(), "is changed") {
			t.Fatalf("%s: pin change on the pad: exit %d:\n%s", backend, code, out.String())
		}
		// The card took the PIN typed on the pad: changed back on the host.
		changeBack := func(what string) {
			t.Helper()
			if code, _, stderr := runCmd(t, newPIN+"\n"+vcard.DefaultPIN+"\n", "pin", "change", "--card-backend", backend, "--reader", pad.Reader, "--no-pin-pad", "--pin-stdin"); code != exitOK {
				t.Fatalf("%s: pin change back from the PIN %s: exit %d:\n%s", backend, what, code, stderr)
			}
		}
		changeBack("changed on the pad")

		// 'sclogon pin unblock' on the pad: a wrong PUK costs one PUK try.
		unblock := func(puk, tries string) (int, string) {
			t.Helper()
			out, done := runAsync("pin", "unblock", "--card-backend", backend, "--reader", pad.Reader)
			waitFor(t, out, `on the PIN pad of the reader "`+pad.Reader+`", type the PUK (`+tries+")")
			pad.Type(t, puk, newPIN, newPIN)
			return exitOf(t, out, done), out.String()
		}
		// piv-go does not read the PUK's counter (the generic client does).
		pukTries := func(n string) string {
			if backend == "piv-go" {
				return card.TriesLeft(card.RetriesUncounted)
			}
			return n
		}
		if code, out := unblock("00000000", pukTries("3 tries left")); code != exitFail || !strings.Contains(out, "the card refused the PUK (2 tries left)") || snap(t, vc).PUKTriesLeft() != 2 {
			t.Fatalf("%s: a wrong PUK on the pad: exit %d, %d PUK tries left:\n%s", backend, code, snap(t, vc).PUKTriesLeft(), out)
		}
		if code, out := unblock(vcard.DefaultPUK, pukTries("2 tries left")); code != exitOK || !strings.Contains(out, "is set and unblocked") {
			t.Fatalf("%s: unblock on the pad: exit %d:\n%s", backend, code, out)
		}
		changeBack("set by the unblock on the pad")
		if snap(t, vc).PINTriesLeft() != 3 {
			t.Fatalf("%s: %d tries left after the changes", backend, snap(t, vc).PINTriesLeft())
		}
	}
}

// keyTransportOnePIN: with RSA key transport the card signs the request and
// then decrypts the KDC's answer; the identity keeps the card between the
// two, so the person types the PIN on the reader once, not once per
// operation.
func keyTransportOnePIN(t *testing.T, backend string, pad *harness.PINPad) {
	t.Helper()
	out, done := runAsync("kinit", "--card-backend", backend, "--reader", pad.Reader, "--rsa-key-transport", "-c", "FILE:"+filepath.Join(t.TempDir(), "cc"))
	typeHere := `enter the PIN on the reader "` + pad.Reader + `"`
	waitFor(t, out, typeHere)
	pad.Type(t, vcard.DefaultPIN)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case code := <-done:
			if code != exitOK || strings.Count(out.String(), typeHere) != 1 {
				t.Fatalf("%s: RSA key transport on the pad: exit %d:\n%s", backend, code, out.String())
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if strings.Count(out.String(), typeHere) > 1 {
			pad.Type(t, vcard.DefaultPIN) // so that it ends
			<-done
			t.Fatalf("%s: RSA key transport asked for the PIN on the reader twice:\n%s", backend, out.String())
		}
	}
	t.Fatalf("%s: RSA key transport on the pad did not end:\n%s", backend, out.String())
}
