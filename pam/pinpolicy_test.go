package pam_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/card/vcard"
	certlogon "github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/pam"
)

// policyCard is a software card in process holding p's key in one slot
// with a PIN policy, its VERIFY commands counted.
type policyCard struct {
	st *vcard.State

	mu       sync.Mutex
	verifies int
}

func newPolicyCard(t *testing.T, p person, slot card.Slot, policy vcard.PINPolicy) *policyCard {
	t.Helper()
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetKey(byte(slot), p.key, policy); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(byte(slot), p.cert.Raw); err != nil {
		t.Fatal(err)
	}
	return &policyCard{st: st}
}

func (c *policyCard) Readers() ([]string, error) { return []string{"In-process 00"}, nil }

func (c *policyCard) Open(reader string) (card.Card, error) {
	soft := vcard.New(c.st, vcard.Options{Observe: func(e vcard.Exchange) {
		if e.INS == 0x20 && e.Nc > 0 {
			c.mu.Lock()
			c.verifies++
			c.mu.Unlock()
		}
	}})
	return apdu.Open(soft, reader, apdu.Options{})
}

func (c *policyCard) Verifies() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verifies
}

// countingConv answers every PIN prompt with pin and counts the prompts.
type countingConv struct {
	pin     string
	prompts []int // the tries left each prompt showed
}

func (c *countingConv) Secret(_ string, retries int) ([]byte, error) {
	c.prompts = append(c.prompts, retries)
	return []byte(c.pin), nil
}

func (c *countingConv) Info(string) {}

func (c *countingConv) Choose(h selection.Hint, vs []certlogon.Verdict) (int, error) {
	return selection.PreferNamed(h)(vs)
}

// signTwice opens the card through pam.CardSource as a logon does and
// signs twice with its key: two private-key operations of one logon.
// extra lines go into [pam].
func signTwice(t *testing.T, c *policyCard, conv pam.Conversation, extra ...string) (first, second error) {
	t.Helper()
	f := getFixture(t)
	conf := f.writeConfig(t, "127.0.0.1:88", "/nonexistent", "/tmp/krb5cc_%{uid}", extra...)
	// A key in slot 9c may log on where the realm allows it (Windows'
	// AllowSignatureOnlyKeys).
	appendFile(t, conf, "[libdefaults]\n  sclogon_allow_signature_keys = true\n")
	cfg, err := pam.LoadConfig(conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	hint, err := cfg.Hint(f.user.name)
	if err != nil {
		t.Fatal(err)
	}
	id, release, err := pam.CardSource{Provider: c, Policy: cfg.Policy, PINCache: cfg.PINCache}.Open(context.Background(), hint, conv)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	digest := sha256.Sum256([]byte("the AuthPack"))
	_, first = id.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	_, second = id.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	return first, second
}

// Under PAM the PIN typed at the conversation is the logon's one PIN (the
// normal PIN cache policy): a key whose policy is "once" is asked for once
// however often it works. A 9c key whose policy is "always" is asked for
// again through the conversation at each use, and VERIFY goes to the card
// each time; pam_exec, which collected one PIN, does not hand it over a
// second time without asking.
func TestPAMKeyPINPolicy(t *testing.T) {
	f := getFixture(t)
	t.Run("once_asked_once", func(t *testing.T) {
		c := newPolicyCard(t, f.user, card.SlotAuthentication, vcard.PINPolicyOnce)
		conv := &countingConv{pin: vcard.DefaultPIN}
		if first, second := signTwice(t, c, conv); first != nil || second != nil {
			t.Fatalf("sign: %v, %v", first, second)
		}
		if len(conv.prompts) != 1 || conv.prompts[0] != 3 || c.Verifies() != 1 {
			t.Errorf("prompts %v (tries shown), VERIFY %d; want one prompt showing 3 tries, one VERIFY", conv.prompts, c.Verifies())
		}
	})
	t.Run("always_asked_each_use", func(t *testing.T) {
		c := newPolicyCard(t, f.user, card.SlotSignature, vcard.PINPolicyAlways)
		conv := &countingConv{pin: vcard.DefaultPIN}
		if first, second := signTwice(t, c, conv); first != nil || second != nil {
			t.Fatalf("sign: %v, %v", first, second)
		}
		if len(conv.prompts) != 2 || c.Verifies() != 2 {
			t.Errorf("%d prompts, %d VERIFY; want 2 and 2", len(conv.prompts), c.Verifies())
		}
	})
	// [pam] pin_cache = none keeps no PIN: even a "once" key is asked
	// for again at its second use, and VERIFY goes to the card again.
	t.Run("pin_cache_none_asked_each_use", func(t *testing.T) {
		c := newPolicyCard(t, f.user, card.SlotAuthentication, vcard.PINPolicyOnce)
		conv := &countingConv{pin: vcard.DefaultPIN}
		if first, second := signTwice(t, c, conv, "pin_cache = none"); first != nil || second != nil {
			t.Fatalf("sign: %v, %v", first, second)
		}
		if len(conv.prompts) != 2 || c.Verifies() != 2 {
			t.Errorf("%d prompts, %d VERIFY; want 2 and 2", len(conv.prompts), c.Verifies())
		}
	})
	t.Run("always_under_pam_exec", func(t *testing.T) {
		c := newPolicyCard(t, f.user, card.SlotSignature, vcard.PINPolicyAlways)
		first, second := signTwice(t, c, pam.NewAuthtok([]byte(vcard.DefaultPIN)))
		if first != nil || !errors.Is(second, pam.ErrAuthtokSpent) {
			t.Fatalf("sign: %v, %v; want success, then ErrAuthtokSpent", first, second)
		}
		if c.Verifies() != 1 {
			t.Errorf("%d VERIFY, want 1: the collected PIN was presented again", c.Verifies())
		}
	})
}
