//go:build cgo

package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// insertCard serves st at addr (a reader's card side) until the test ends.
func insertCard(t *testing.T, st *vcard.State, addr string) {
	t.Helper()
	c := vcard.New(st, vcard.Options{Generic: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.ServeVPCD(ctx, addr, nil) }()
	t.Cleanup(func() { cancel(); <-done })
}

// kinitAsync runs 'sclogon kinit args' in the background; its stderr is
// readable while it runs.
func kinitAsync(stdin string, args ...string) (*harness.Buffer, <-chan int) {
	return kinitAsyncContext(context.Background(), stdin, args...)
}

func kinitAsyncContext(ctx context.Context, stdin string, args ...string) (*harness.Buffer, <-chan int) {
	var stderr harness.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, stdio{in: strings.NewReader(stdin), out: &stderr, errOut: &stderr}, append([]string{"kinit"}, args...))
	}()
	return &stderr, done
}

func exitOf(t *testing.T, stderr *harness.Buffer, done <-chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("kinit did not end:\n%s", stderr.String())
		return 0
	}
}

// TestKinitWaitForCard is issue 19's acceptance for waiting, choosing and
// PIN pads, with our KDC and the software card under pcscd: without --wait
// kinit fails at once with the reason; 'kinit --wait 10s' started before
// the card is inserted logs on when it is, and Ctrl-C ends a wait; --card picks the card by its
// CHUID GUID and refuses one that is not in; and on a PIN-pad reader the
// PIN is typed on the reader when kinit says so, never read on the host
// (stdin is empty and there is no terminal).
func TestKinitWaitForCard(t *testing.T) {
	p := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true}) // first: the KDC's ports must not take vpcd's
	s := startSIDKDC(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	newCard := func() *vcard.State {
		st := cardtest.NewState(t)
		key, cert := issueFor(t, s.ca, pki.UserProfile, pki.User{UPN: "alice@EXAMPLE.COM", SID: s.sid})
		cardtest.Put(t, st, card.SlotAuthentication, key, cert)
		return st
	}
	ccache := func() string { return filepath.Join(t.TempDir(), "cc") }
	loggedOn := func(cc string) {
		t.Helper()
		out := harness.Run(t, s.mit.Command(t, "klist", "-c", "FILE:"+cc))
		if !strings.Contains(out, "alice@EXAMPLE.COM") || !strings.Contains(out, "krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
			t.Fatalf("klist:\n%s", out)
		}
	}

	// No card, no --wait: a failure at once, with the reason.
	code, _, stderr := runKinitCmd(t, vcard.DefaultPIN+"\n", "--pin-stdin", "--no-pin-pad", "-c", "FILE:"+ccache())
	if code != exitFail || !strings.Contains(stderr, "no smart card found") || strings.Contains(stderr, "insert your smart card;") {
		t.Fatalf("no card, no --wait: exit %d:\n%s", code, stderr)
	}

	// --wait 10s before the card: it logs on when the card comes.
	st := newCard()
	cc := ccache()
	out, done := kinitAsync(vcard.DefaultPIN+"\n", "--wait", "10s", "--pin-stdin", "--reader", "Virtual PCD", "-c", "FILE:"+cc)
	waitFor(t, out, "sclogon: insert your smart card; waiting up to 10s")
	insertCard(t, st, p.CardAddrs[0])
	if code := exitOf(t, out, done); code != exitOK {
		t.Fatalf("kinit --wait: exit %d:\n%s", code, out.String())
	}
	loggedOn(cc)

	// --wait alone waits until the card comes (here one that is not in);
	// Ctrl-C (the command's context) ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	out, done = kinitAsyncContext(ctx, vcard.DefaultPIN+"\n", "--wait", "--pin-stdin", "--card", "serial:4242", "-c", "FILE:"+ccache())
	waitFor(t, out, "sclogon: insert the smart card serial:4242; waiting for it (Ctrl-C to stop)")
	cancel()
	if code := exitOf(t, out, done); code == exitOK || !strings.Contains(out.String(), "interrupted") {
		t.Fatalf("kinit --wait, interrupted: exit %d:\n%s", code, out.String())
	}

	// --card: the GUID of the card in, and one of no card.
	g := st.GUID()
	guid := hex.EncodeToString(g[:])
	if code, _, stderr := runKinitCmd(t, vcard.DefaultPIN+"\n", "--pin-stdin", "--card", strings.ToUpper(guid), "-c", "FILE:"+ccache()); code != exitOK {
		t.Fatalf("--card %s: exit %d:\n%s", guid, code, stderr)
	}
	other := strings.Repeat("0", 32)
	code, _, stderr = runKinitCmd(t, vcard.DefaultPIN+"\n", "--pin-stdin", "--card", other, "-c", "FILE:"+ccache())
	if code != exitFail || !strings.Contains(stderr, "no smart card found") {
		t.Fatalf("--card %s (not in): exit %d:\n%s", other, code, stderr)
	}

	// The PIN-pad reader: the PIN is typed there when kinit says so.
	pad := p.PINPad
	insertCard(t, newCard(), pad.CardAddr)
	cc = ccache()
	out, done = kinitAsync("", "--wait", "10s", "--reader", pad.Reader, "-c", "FILE:"+cc)
	waitFor(t, out, `enter the PIN on the reader "`+pad.Reader+`"`)
	pad.Type(t, vcard.DefaultPIN)
	if code := exitOf(t, out, done); code != exitOK {
		t.Fatalf("kinit on the PIN pad: exit %d:\n%s", code, out.String())
	}
	loggedOn(cc)
	if _, err := os.Stat(cc); err != nil {
		t.Fatal(err)
	}
}
