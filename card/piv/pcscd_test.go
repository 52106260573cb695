//go:build cgo

package piv_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/pcsc"
	"github.com/sclogon/sclogon/card/piv"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/identity"
)

// observed is a software card whose VERIFY commands are counted.
type observed struct {
	st       *vcard.State
	card     *vcard.Card
	mu       sync.Mutex
	verifies int // VERIFY with a PIN
	// The card's counters after its last command, read in the observer
	// (which runs under the card's lock).
	pinLeft, pukLeft int
}

func (o *observed) count() int { o.mu.Lock(); defer o.mu.Unlock(); return o.verifies }

func (o *observed) tries() (pin, puk int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pinLeft, o.pukLeft
}

func (o *observed) pinTries() int { n, _ := o.tries(); return n }

func serve(t *testing.T, st *vcard.State, generic bool, addr string) *observed {
	t.Helper()
	o := &observed{st: st, pinLeft: st.PINTriesLeft(), pukLeft: st.PUKTriesLeft()}
	o.card = vcard.New(st, vcard.Options{Generic: generic, Observe: func(e vcard.Exchange) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if e.INS == 0x20 && e.Nc > 0 {
			o.verifies++
		}
		o.pinLeft, o.pukLeft = st.PINTriesLeft(), st.PUKTriesLeft()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.card.ServeVPCD(ctx, addr, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

func pinOf(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBackendsUnderPCSCD runs both backends against software cards under
// the real pcscd: a generic card (no YubiKey extensions) in the first
// reader, a YubiKey-like card in the second. Through the generic PC/SC path
// (both cards) and piv-go (the YubiKey-like card; it cannot open the
// generic one): listing and reading, a wrong PIN costs exactly one try (the
// card's counter), a blocked PIN gets no VERIFY at all (the card's
// observer), change and unblock.
func TestBackendsUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	ca := cardtest.NewPKI(t)
	newCard := func() *vcard.State {
		st := cardtest.NewState(t)
		key := cardtest.Key(t, pki.RSA2048)
		cardtest.Put(t, st, card.SlotAuthentication, key, ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM")))
		return st
	}
	cards := []*observed{
		serve(t, newCard(), true, p.CardAddrs[0]),
		serve(t, newCard(), false, p.CardAddrs[1]),
	}
	waitCards(t, p.Readers)

	// piv-go cannot open the generic card, and says so.
	if _, err := (piv.Provider{}).Open(p.Readers[0]); !errors.Is(err, piv.ErrNotYubiKey) {
		t.Fatalf("piv-go on the generic card: %v, want ErrNotYubiKey", err)
	}
	for _, tc := range []struct {
		name   string
		prov   card.Provider
		reader int
	}{
		{"generic/generic-card", pcsc.Provider{}, 0},
		{"generic/yubikey-card", pcsc.Provider{}, 1},
		{"piv-go/yubikey-card", piv.Provider{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reader, o := p.Readers[tc.reader], cards[tc.reader]
			rs, err := tc.prov.Readers()
			if err != nil || !slices.Contains(rs, reader) {
				t.Fatalf("readers %q, %v", rs, err)
			}
			open := func() card.Card {
				t.Helper()
				c, err := tc.prov.Open(reader)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			c := open()
			list, err := c.Certificates()
			if err != nil || len(list) != 1 || list[0].Slot != card.SlotAuthentication {
				t.Fatalf("certificates %v, %v", list, err)
			}
			if id, err := c.ID(); err != nil || id.IsZero() {
				t.Errorf("ID %v, %v", id, err)
			}
			cert := list[0].Cert
			// A wrong PIN costs exactly one try.
			before := o.pinTries()
			var pe *card.PINError
			if err := c.VerifyPIN(pinOf(t, "999999")); !errors.As(err, &pe) || pe.Retries != before-1 {
				t.Fatalf("wrong PIN: %v", err)
			}
			if got := o.pinTries(); got != before-1 {
				t.Fatalf("the card counts %d tries left after one wrong PIN, had %d", got, before)
			}
			if n, err := c.PINRetries(); err != nil || n != before-1 {
				t.Fatalf("PINRetries %d, %v", n, err)
			}
			// The logon identity signs after one VERIFY.
			id := identity.NewCard(c, card.SlotAuthentication, cert, "alice@example.com", identity.CardOptions{
				PIN: func(string, int) (*card.PIN, error) { return pinOf(t, vcard.DefaultPIN), nil },
			})
			digest := sha256.Sum256([]byte("AuthPack"))
			if _, err := id.Signer().Sign(nil, digest[:], crypto.SHA256); err != nil {
				t.Fatal(err)
			}
			c.Close()
			// Block it; then a logon sends no VERIFY.
			c = open()
			for range o.pinTries() {
				_ = c.VerifyPIN(pinOf(t, "999999"))
			}
			if o.pinTries() != 0 {
				t.Fatalf("%d tries left after blocking", o.pinTries())
			}
			c.Close()
			c = open()
			sent := o.count()
			asked := false
			id = identity.NewCard(c, card.SlotAuthentication, cert, "alice@example.com", identity.CardOptions{
				PIN: func(string, int) (*card.PIN, error) { asked = true; return pinOf(t, vcard.DefaultPIN), nil },
			})
			if _, err := id.Signer().Sign(nil, digest[:], crypto.SHA256); !errors.Is(err, card.ErrPINBlocked) {
				t.Fatalf("blocked card: %v, want ErrPINBlocked", err)
			}
			if o.count() != sent || asked {
				t.Fatalf("a blocked card got %d VERIFY (asked for the PIN: %v)", o.count()-sent, asked)
			}
			// Unblock with the PUK (a wrong one costs a PUK try), then change.
			if err := c.UnblockPIN(pinOf(t, "00000000"), pinOf(t, "654321")); !errors.As(err, &pe) || !pe.PUK {
				t.Fatalf("wrong PUK: %v", err)
			}
			if err := c.UnblockPIN(pinOf(t, vcard.DefaultPUK), pinOf(t, "654321")); err != nil {
				t.Fatal(err)
			}
			c.Close()
			c = open()
			defer c.Close()
			if err := c.ChangePIN(pinOf(t, "654321"), pinOf(t, vcard.DefaultPIN)); err != nil {
				t.Fatal(err)
			}
			pinLeft, pukLeft := o.tries()
			if err := c.VerifyPIN(pinOf(t, vcard.DefaultPIN)); err != nil || pinLeft != 3 || pukLeft != 3 {
				t.Fatalf("after unblock and change: %v (PIN %d, PUK %d tries)", err, pinLeft, pukLeft)
			}
		})
	}
}

// waitCards waits until pcscd lists a card in every reader.
func waitCards(t *testing.T, readers []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rs, err := (pcsc.Provider{}).Readers()
		ok := err == nil
		for _, r := range readers {
			ok = ok && slices.Contains(rs, r)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd lists %q (%v), want %s", rs, err, strings.Join(readers, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
