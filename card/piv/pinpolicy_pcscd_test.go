//go:build cgo

package piv_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
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

// TestPINPolicyUnderPCSCD is issue 19's PIN cache acceptance under the real
// pcscd, through the generic PC/SC backend: software cards with keys in 9a,
// 9c and 9e, one generic (the slots' default policies) and one with YubiKey
// metadata and 9a set to "always" at key generation. Each case counts the
// prompts and the VERIFY commands the card saw.
func TestPINPolicyUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	ca := cardtest.NewPKI(t)
	newCard := func(policies map[card.Slot]vcard.PINPolicy) *vcard.State {
		st := cardtest.NewState(t)
		for _, slot := range []card.Slot{card.SlotAuthentication, card.SlotSignature, card.SlotCardAuthentication} {
			key := cardtest.Key(t, pki.P256)
			cert := ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
			if err := st.SetKey(byte(slot), key, policies[slot]); err != nil {
				t.Fatal(err)
			}
			if err := st.SetCertificate(byte(slot), cert.Raw); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	generic := serve(t, newCard(nil), true, p.CardAddrs[0])
	yubi := serve(t, newCard(map[card.Slot]vcard.PINPolicy{card.SlotAuthentication: vcard.PINPolicyAlways}), false, p.CardAddrs[1])
	waitCards(t, p.Readers)

	type run struct {
		o      *observed
		reader string
		slot   card.Slot
		cache  *card.PINCache
		prov   card.Provider // nil: the generic PC/SC backend
	}
	logon := func(t *testing.T, r run) (*identity.Card, *int, func(n int)) {
		t.Helper()
		if r.prov == nil {
			r.prov = pcsc.Provider{}
		}
		c, err := r.prov.Open(r.reader)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.Certificate(r.slot)
		if err != nil {
			t.Fatal(err)
		}
		prompts := 0
		id := identity.NewCard(c, r.slot, cert, "alice@EXAMPLE.COM", identity.CardOptions{
			Cache: r.cache,
			Ask: func(context.Context, card.PINRequest) (*card.PIN, error) {
				prompts++
				return card.NewPIN([]byte(vcard.DefaultPIN))
			},
		})
		t.Cleanup(func() { id.Close(); c.Close() })
		sign := func(n int) {
			t.Helper()
			for range n {
				digest := sha256.Sum256([]byte("AuthPack"))
				if _, err := id.Signer().Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					t.Fatal(err)
				}
			}
		}
		return id, &prompts, sign
	}
	check := func(t *testing.T, o *observed, before, prompts, wantPrompts, wantVerifies int) {
		t.Helper()
		if got := o.count() - before; prompts != wantPrompts || got != wantVerifies {
			t.Fatalf("%d prompts, %d VERIFYs; want %d and %d", prompts, got, wantPrompts, wantVerifies)
		}
	}
	normal := func() *card.PINCache { return card.NewPINCache(card.PINCachePolicy{}, nil) }

	// Each key's PIN policy against normal caching: signing n times asks
	// and verifies as the policy says, and the identity reports the
	// policy it found (from GET METADATA, piv-go's KeyInfo or the slot).
	for _, tc := range []struct {
		name                    string
		r                       run
		signs, prompts, verifys int
		policy                  card.KeyPINPolicy
	}{
		{"9c always under normal caching asks again", run{generic, p.Readers[0], card.SlotSignature, nil, nil}, 2, 2, 2, card.KeyPINAlways},
		{"9a always by metadata asks again", run{yubi, p.Readers[1], card.SlotAuthentication, nil, nil}, 2, 2, 2, card.KeyPINAlways},
		{"9a always by metadata through piv-go asks again", run{yubi, p.Readers[1], card.SlotAuthentication, nil, piv.Provider{}}, 2, 2, 2, card.KeyPINAlways},
		{"9e never asks nothing", run{generic, p.Readers[0], card.SlotCardAuthentication, nil, nil}, 2, 0, 0, card.KeyPINNever},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.cache = normal()
			before := tc.r.o.count()
			id, prompts, sign := logon(t, tc.r)
			sign(tc.signs)
			check(t, tc.r.o, before, *prompts, tc.prompts, tc.verifys)
			if id.KeyPolicy() != tc.policy {
				t.Fatalf("policy %s, want %s", id.KeyPolicy(), tc.policy)
			}
		})
	}
	// The card is deauthenticated whenever the identity releases it, so a
	// kept PIN is presented again (without asking) at each operation.
	t.Run("9a once under normal caching asks once", func(t *testing.T) {
		before := generic.count()
		_, prompts, sign := logon(t, run{generic, p.Readers[0], card.SlotAuthentication, normal(), nil})
		sign(3)
		check(t, generic, before, *prompts, 1, 3)
	})
	t.Run("timed caching asks again after its time", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		cache := card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: 5 * time.Second}, func() time.Time { return now })
		before := generic.count()
		_, prompts, sign := logon(t, run{generic, p.Readers[0], card.SlotAuthentication, cache, nil})
		sign(1)
		now = now.Add(4 * time.Second)
		sign(1)
		check(t, generic, before, *prompts, 1, 2)
		now = now.Add(time.Second)
		sign(1)
		check(t, generic, before, *prompts, 2, 3)
	})
	t.Run("none asks per operation", func(t *testing.T) {
		before := generic.count()
		_, prompts, sign := logon(t, run{generic, p.Readers[0], card.SlotAuthentication, card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheNone}, nil), nil})
		sign(3)
		check(t, generic, before, *prompts, 3, 3)
	})
	t.Run("the transaction is held only around card work", func(t *testing.T) {
		before := generic.count()
		_, prompts, sign := logon(t, run{generic, p.Readers[0], card.SlotAuthentication, normal(), nil})
		sign(1)
		// Between operations another application gets the card (its
		// Connect begins a transaction, which would wait for ours) and
		// finds the PIN not verified: nobody signs on this session's PIN.
		other := make(chan error, 1)
		var seen int
		go func() {
			c, err := (pcsc.Provider{}).Open(p.Readers[0])
			if err == nil {
				seen, err = c.PINRetries()
				err = errors.Join(err, c.Close())
			}
			other <- err
		}()
		select {
		case err := <-other:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second): // a bound, not a speed
			t.Fatal("another application could not use the card between two operations: the transaction was kept")
		}
		if seen != 3 {
			t.Fatalf("another application sees PIN status %d between operations, want 3 tries (not verified)", seen)
		}
		// The identity takes the card back, checks it is the same card,
		// and verifies the kept PIN again without asking.
		sign(1)
		check(t, generic, before, *prompts, 1, 2)
	})
}
