package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestCancelPromptExit130: a prompt whose context ends returns
// errInterrupted (a context.Canceled) at once, reading nothing more, and the
// command reports it with exit 130.
func TestCancelPromptExit130(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		b, err := readSecretLineContext(ctx, bufio.NewReader(r), func() { r.CloseWithError(errors.New("unblocked")) })
		if b != nil {
			err = fmt.Errorf("read %q after the interrupt", b)
		}
		done <- err
	}()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second): // a bound, not a speed
		t.Fatal("the prompt did not end with its context")
	}
	if !errors.Is(err, errInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v, want errInterrupted", err)
	}
	var errOut strings.Builder
	if code := report(stdio{out: io.Discard, errOut: &errOut}, fmt.Errorf("identity: %w", err), ""); code != exitInterrupted {
		t.Fatalf("exit %d, want %d", code, exitInterrupted)
	}
	if got := errOut.String(); got != "sclogon: interrupted at the prompt; nothing was sent to the card\n" {
		t.Fatalf("report wrote %q", got)
	}
	// An empty line is no PIN: refused before the card sees anything.
	a := pinAsker{stdin: bufio.NewReader(strings.NewReader("\n")), fromStdin: true}
	if _, err := a.ask("PIN: "); !errors.Is(err, errNoPIN) {
		t.Fatalf("empty line: %v, want errNoPIN", err)
	}
}
