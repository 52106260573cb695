//go:build cgo && (linux || freebsd || openbsd)

package pcsc_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/identity"
)

// softCard is a software card under pcscd whose PIN commands are counted
// and whose counters are read under its lock (in its observer).
type softCard struct {
	mu       sync.Mutex
	verifies int // VERIFY and CHANGE REFERENCE DATA with data
	pinLeft  int
}

func (s *softCard) state() (verifies, pinLeft int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verifies, s.pinLeft
}

// newState is a software card with a logon certificate in 9a.
func newState(t *testing.T) *vcard.State {
	t.Helper()
	st := cardtest.NewState(t)
	ca := cardtest.NewPKI(t)
	key := cardtest.Key(t, pki.P256)
	cardtest.Put(t, st, card.SlotAuthentication, key, ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM")))
	return st
}

// insert serves a new software card at addr until the test ends or remove
// is called.
func insert(t *testing.T, addr string) (sc *softCard, st *vcard.State, remove func()) {
	t.Helper()
	st = newState(t)
	sc, remove = serve(t, st, addr)
	return sc, st, remove
}

// serve inserts the card st into the reader whose card side is addr.
func serve(t *testing.T, st *vcard.State, addr string) (sc *softCard, remove func()) {
	sc = &softCard{pinLeft: st.PINTriesLeft()}
	c := vcard.New(st, vcard.Options{Generic: true, Observe: func(e vcard.Exchange) {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if (e.INS == 0x20 || e.INS == 0x24) && e.Nc > 0 {
			sc.verifies++
		}
		sc.pinLeft = st.PINTriesLeft()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.ServeVPCD(ctx, addr, nil) }()
	var once sync.Once
	remove = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(remove)
	return sc, remove
}

// waitPresent waits (a bound, not a speed) until pcscd lists a card in reader.
func waitPresent(t *testing.T, reader string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rs, err := (pcsc.Provider{}).Readers()
		if err == nil && slices.Contains(rs, reader) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd lists %q (%v), want %s", rs, err, reader)
		}
	}
}

type pinPadder interface {
	ProtectedPath() bool
	PINPadReader() string
}

// TestPinPadUnderPCSCD: a card in a reader with a PIN pad (our IFD handler
// under the real pcscd) takes its PIN on the reader. The logon identity
// never asks the host for it; the person is told to type on the reader; a
// wrong PIN costs exactly one try (the card's counter) and reads as a
// keyboard PIN's; cancel, a mismatched confirmation and a short PIN cost
// none; a PIN change goes through the pad; a blocked PIN is reported as
// blocked. The vpcd reader (no pad) and NoPINPad keep the host's PIN.
func TestPinPadUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCDWith(t, harness.PCSCOptions{PINPad: true})
	pad := p.PINPad
	sc, _, _ := insert(t, pad.CardAddr)
	insert(t, p.CardAddrs[0])
	waitPresent(t, pad.Reader)
	waitPresent(t, p.Readers[0])

	var typed []string // what the person will type at the next prompt
	var told []string
	prov := pcsc.Provider{OnPINPad: func(reader string) {
		told = append(told, reader)
		pad.Type(t, typed...)
	}}
	open := func(prov pcsc.Provider, reader string) card.Card {
		t.Helper()
		c, err := prov.Open(reader)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	c := open(prov, pad.Reader)
	pp, ok := c.(pinPadder)
	if !ok || !pp.ProtectedPath() || pp.PINPadReader() != pad.Reader {
		t.Fatalf("the card in the PIN-pad reader is %T, no PIN pad", c)
	}
	cert, err := c.Certificate(card.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}

	// A wrong PIN on the pad: one try, a PINError with the tries left.
	verifies, before := sc.state()
	typed = []string{"999999"}
	var pe *card.PINError
	if err := c.VerifyPIN(nil); !errors.As(err, &pe) || pe.Retries != before-1 || pe.PUK {
		t.Fatalf("wrong PIN on the pad: %v, want a PINError with %d tries", err, before-1)
	}
	if v, left := sc.state(); left != before-1 || v != verifies+1 {
		t.Fatalf("after one wrong PIN on the pad the card counts %d tries (had %d) and %d VERIFY", left, before, v-verifies)
	}

	// Cancel, a short PIN: the reader answers, the card is not asked.
	for _, tc := range []struct {
		keys []string
		want error
	}{
		{[]string{"cancel"}, pcsc.ErrPINPadCancelled},
		{[]string{"123"}, pcsc.ErrPINPadLength},
	} {
		typed = tc.keys
		v0, left0 := sc.state()
		if err := c.VerifyPIN(nil); !errors.Is(err, tc.want) {
			t.Fatalf("keys %q: %v, want %v", tc.keys, err, tc.want)
		}
		if v, left := sc.state(); v != v0 || left != left0 {
			t.Fatalf("keys %q reached the card (%d VERIFY, tries %d → %d)", tc.keys, v-v0, left0, left)
		}
	}

	// The logon identity: the right PIN on the pad; the host is never asked.
	typed = []string{vcard.DefaultPIN}
	told = nil
	onDevice := 0
	id := identity.NewCard(c, card.SlotAuthentication, cert, "alice@example.com", identity.CardOptions{
		PIN:      func(string, int) (*card.PIN, error) { t.Fatal("the PIN was asked on the host"); return nil, nil },
		OnDevice: func(string, int) { onDevice++ },
	})
	digest := sha256.Sum256([]byte("AuthPack"))
	if _, err := id.Signer().Sign(nil, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != pad.Reader || onDevice != 1 {
		t.Fatalf("the person was told %q (OnDevice %d times), want once %q", told, onDevice, pad.Reader)
	}
	if pad.Pending() {
		t.Fatal("the keys typed were not taken by the reader")
	}

	// A change on the pad: a mismatched confirmation costs nothing; then
	// current, new, new; the new PIN works from the keyboard too.
	c.Close()
	c = open(prov, pad.Reader)
	typed = []string{vcard.DefaultPIN, "24682468", "24682460"}
	if err := c.ChangePIN(nil, nil); !errors.Is(err, pcsc.ErrPINPadMismatch) {
		t.Fatalf("mismatched confirmation: %v", err)
	}
	typed = []string{vcard.DefaultPIN, "24682468", "24682468"}
	if err := c.ChangePIN(nil, nil); err != nil {
		t.Fatalf("change on the pad: %v", err)
	}
	if err := c.VerifyPIN(pinOf(t, "24682468")); err != nil {
		t.Fatalf("the new PIN from the keyboard: %v", err)
	}

	// Blocked: every try spent on the pad, then the card says blocked.
	c.Close()
	c = open(prov, pad.Reader)
	for _, left := sc.state(); left > 0; _, left = sc.state() {
		typed = []string{"11111111"}
		_ = c.VerifyPIN(nil)
	}
	typed = []string{"11111111"}
	if err := c.VerifyPIN(nil); !errors.Is(err, card.ErrPINBlocked) {
		t.Fatalf("blocked PIN on the pad: %v", err)
	}
	c.Close()

	// No pad: the vpcd reader, and NoPINPad on the pad's reader.
	for _, tc := range []struct {
		prov   pcsc.Provider
		reader string
	}{
		{pcsc.Provider{}, p.Readers[0]},
		{pcsc.Provider{NoPINPad: true}, pad.Reader},
	} {
		if pp, ok := open(tc.prov, tc.reader).(pinPadder); ok && pp.ProtectedPath() {
			t.Errorf("%s (NoPINPad %v): the card takes its PIN on a pad", tc.reader, tc.prov.NoPINPad)
		}
	}
}

func pinOf(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
