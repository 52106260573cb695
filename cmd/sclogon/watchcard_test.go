//go:build cgo

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/integration/harness"
)

// servedCard is a software card in a reader until taken out.
type servedCard struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func putIn(t *testing.T, addr string) *servedCard {
	t.Helper()
	st, err := vcard.NewState(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := vcard.New(st, vcard.Options{Generic: true})
	ctx, cancel := context.WithCancel(context.Background())
	s := &servedCard{cancel: cancel, done: make(chan struct{})}
	go func() { defer close(s.done); _ = c.ServeVPCD(ctx, addr, nil) }()
	t.Cleanup(s.takeOut)
	return s
}

func (s *servedCard) takeOut() { s.cancel(); <-s.done }

// fakeLoginctl puts a loginctl first in PATH that writes its arguments to
// the file it returns: the watch's session actions, without a logind.
func fakeLoginctl(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	called := filepath.Join(dir, "called")
	script := "#!/bin/sh\necho \"$@\" >> " + called + "\n"
	if err := os.WriteFile(filepath.Join(dir, "loginctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("XDG_SESSION_ID", "c7")
	return called
}

func watchAsync(args ...string) (*harness.Buffer, <-chan int) {
	var stderr harness.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), stdio{in: strings.NewReader(""), out: &stderr, errOut: &stderr}, append([]string{"watch"}, args...))
	}()
	return &stderr, done
}

// TestWatchCardSwap is issue 20's watch acceptance under pcscd: 'sclogon
// watch' follows the card in the reader on SCardGetStatusChange; a card
// swapped for another at once (the software card leaves and a new one
// takes the reader before pcscd looks again) counts as removed: the ccache
// is destroyed and the session locked. Then the new card is followed, and
// its removal ends the session (--logout).
func TestWatchCardSwap(t *testing.T) {
	p := harness.StartPCSCD(t)
	called := fakeLoginctl(t)
	dir := t.TempDir()
	t.Setenv("KRB5_CONFIG", filepath.Join(dir, "krb5.conf"))
	if err := os.WriteFile(filepath.Join(dir, "krb5.conf"), []byte("[libdefaults]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cc := filepath.Join(dir, "krb5cc")
	if err := os.WriteFile(cc, []byte("tickets"), 0o600); err != nil {
		t.Fatal(err)
	}

	first := putIn(t, p.CardAddrs[0])
	out, done := watchAsync("--once", "--lock", "--destroy-ccache", "-c", "FILE:"+cc, "--reader", p.Readers[0])
	waitFor(t, out, `card present in "`+p.Readers[0]+`"`)
	if _, err := os.Stat(cc); err != nil {
		t.Fatalf("the ccache went while the card is in: %v\n%s", err, out.String())
	}
	start := time.Now()
	first.takeOut()
	second := putIn(t, p.CardAddrs[0])
	t.Logf("the card was swapped in %v", time.Since(start))
	if code := exitOf(t, out, done); code != exitOK {
		t.Fatalf("watch: exit %d:\n%s", code, out.String())
	}
	t.Logf("the swap was acted on %v after the first card left (pcscd looks at the readers every 0.4 s)", time.Since(start))
	t.Logf("watch:\n%s", out.String())
	if !strings.Contains(out.String(), "card swapped in") && !strings.Contains(out.String(), "card removed from") {
		t.Fatalf("no removal logged:\n%s", out.String())
	}
	if _, err := os.Stat(cc); !os.IsNotExist(err) {
		t.Errorf("the ccache is still there: %v\n%s", err, out.String())
	}
	if b, err := os.ReadFile(called); err != nil || string(b) != "lock-session c7\n" {
		t.Fatalf("loginctl called with %q, %v\n%s", b, err, out.String())
	}

	// The second card is followed; taking it out ends the session.
	if err := os.Remove(called); err != nil {
		t.Fatal(err)
	}
	out, done = watchAsync("--once", "--logout", "--reader", p.Readers[0])
	waitFor(t, out, `card present in "`+p.Readers[0]+`"`)
	second.takeOut()
	if code := exitOf(t, out, done); code != exitOK || !strings.Contains(out.String(), "card removed from") {
		t.Fatalf("watch --logout: exit %d:\n%s", code, out.String())
	}
	if b, err := os.ReadFile(called); err != nil || string(b) != "terminate-session c7\n" {
		t.Fatalf("loginctl called with %q, %v\n%s", b, err, out.String())
	}
}
