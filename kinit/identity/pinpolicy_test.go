package identity_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit/identity"
)

// pinRig is a software card in process, its VERIFY commands counted by
// key reference, and the prompts an identity on it makes.
type pinRig struct {
	t     *testing.T
	soft  *vcard.Card
	c     card.Card
	certs map[card.Slot]*x509.Certificate

	mu       sync.Mutex
	verifies map[byte]int // VERIFY with data, by key reference
	prompts  []card.PINRequest
}

// newPINRig makes a card with an RSA key in 9a and P-256 keys in 9c and 9e,
// each with the PIN policy policies names (the slot's default when absent).
// generic cards answer no GET METADATA.
func newPINRig(t *testing.T, generic bool, policies map[card.Slot]vcard.PINPolicy, setup func(*vcard.State)) *pinRig {
	t.Helper()
	ca := cardtest.NewPKI(t)
	st := cardtest.NewState(t)
	r := &pinRig{t: t, certs: map[card.Slot]*x509.Certificate{}, verifies: map[byte]int{}}
	for slot, kt := range map[card.Slot]pki.KeyType{card.SlotAuthentication: pki.RSA2048, card.SlotSignature: pki.P256, card.SlotCardAuthentication: pki.P256} {
		key := cardtest.Key(t, kt)
		cert := ca.Issue(t, key, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
		if err := st.SetKey(byte(slot), key, policies[slot]); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCertificate(byte(slot), cert.Raw); err != nil {
			t.Fatal(err)
		}
		r.certs[slot] = cert
	}
	if setup != nil {
		setup(st)
	}
	r.soft = vcard.New(st, vcard.Options{Generic: generic, Observe: func(e vcard.Exchange) {
		if e.INS == 0x20 && e.P1 == 0x00 && e.Nc > 0 {
			r.mu.Lock()
			r.verifies[e.P2]++
			r.mu.Unlock()
		}
	}})
	c, err := apdu.Open(r.soft, "test reader", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

func (r *pinRig) verified(ref byte) int { r.mu.Lock(); defer r.mu.Unlock(); return r.verifies[ref] }

// identity is the identity of slot's key under cache (nil: normal); every
// prompt is answered with pin.
func (r *pinRig) identity(slot card.Slot, cache *card.PINCache, pin string) *identity.Card {
	return identity.NewCard(r.c, slot, r.certs[slot], "alice@EXAMPLE.COM", identity.CardOptions{
		Cache: cache,
		Ask: func(_ context.Context, req card.PINRequest) (*card.PIN, error) {
			r.mu.Lock()
			r.prompts = append(r.prompts, req)
			r.mu.Unlock()
			return card.NewPIN([]byte(pin))
		},
	})
}

func (r *pinRig) asked() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.prompts) }

func (r *pinRig) sign(id *identity.Card) error {
	r.t.Helper()
	digest := sha256.Sum256([]byte("AuthPack"))
	_, err := id.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	return err
}

func timedCache(ttl time.Duration, now *time.Time) *card.PINCache {
	return card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheTimed, TTL: ttl}, func() time.Time { return *now })
}

// TestPINPolicyAlwaysAsksEachUse: a key whose PIN policy is "always" (9c
// by default; 9a when set at key generation and told by GET METADATA) is
// asked for before every signature under normal caching: two signatures,
// two prompts, two VERIFYs.
func TestPINPolicyAlwaysAsksEachUse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		generic  bool
		slot     card.Slot
		policies map[card.Slot]vcard.PINPolicy
	}{
		{"9c default, generic card", true, card.SlotSignature, nil},
		{"9c default, metadata", false, card.SlotSignature, nil},
		{"9a set always, metadata", false, card.SlotAuthentication, map[card.Slot]vcard.PINPolicy{card.SlotAuthentication: vcard.PINPolicyAlways}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPINRig(t, tc.generic, tc.policies, nil)
			id := r.identity(tc.slot, nil, vcard.DefaultPIN)
			defer id.Close()
			for range 2 {
				if err := r.sign(id); err != nil {
					t.Fatal(err)
				}
			}
			if r.asked() != 2 || r.verified(0x80) != 2 || id.Verifies() != 2 || id.KeyPolicy() != card.KeyPINAlways {
				t.Fatalf("%d prompts, %d VERIFYs (identity counts %d), policy %s; want 2, 2, always", r.asked(), r.verified(0x80), id.Verifies(), id.KeyPolicy())
			}
		})
	}
}

// TestPINNotResentOnSecurityStatus: a key the card treats as "always" but
// that the card does not say so of (a generic card, no metadata, slot 9a)
// answers 6982 to the second signature; the identity reports it and sends
// no PIN by itself.
func TestPINNotResentOnSecurityStatus(t *testing.T) {
	r := newPINRig(t, true, map[card.Slot]vcard.PINPolicy{card.SlotAuthentication: vcard.PINPolicyAlways}, nil)
	id := r.identity(card.SlotAuthentication, nil, vcard.DefaultPIN)
	defer id.Close()
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	if err := r.sign(id); !errors.Is(err, card.ErrSecurityStatus) {
		t.Fatalf("second signature: %v, want ErrSecurityStatus", err)
	}
	if r.asked() != 1 || r.verified(0x80) != 1 {
		t.Fatalf("%d prompts, %d VERIFYs; want 1 and 1: the PIN was re-sent", r.asked(), r.verified(0x80))
	}
}

// TestPINPolicyNeverAsksNothing: the card authentication key 9e (policy
// "never") signs with no prompt and no VERIFY, told by metadata or by the
// slot's default.
func TestPINPolicyNeverAsksNothing(t *testing.T) {
	for _, generic := range []bool{true, false} {
		r := newPINRig(t, generic, nil, nil)
		id := r.identity(card.SlotCardAuthentication, card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheNone}, nil), vcard.DefaultPIN)
		for range 2 {
			if err := r.sign(id); err != nil {
				t.Fatalf("generic %v: %v", generic, err)
			}
		}
		if r.asked() != 0 || r.verified(0x80) != 0 {
			t.Fatalf("generic %v: %d prompts, %d VERIFYs; want none", generic, r.asked(), r.verified(0x80))
		}
		id.Close()
	}
}

// TestPINCacheNormal: a "once" key asks once per logon: sign, decrypt and
// sign again are one prompt and one VERIFY.
func TestPINCacheNormal(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, nil, vcard.DefaultPIN)
	defer id.Close()
	keyTransport(t, r, id)
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	if r.asked() != 1 || r.verified(0x80) != 1 {
		t.Fatalf("%d prompts, %d VERIFYs; want 1 and 1", r.asked(), r.verified(0x80))
	}
	// Close wipes the identity's own cache: a card reset afterwards means
	// asking again.
	id.Close()
	r.soft.Reset()
	if _, err := r.soft.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		t.Fatal(err)
	}
	if err := r.sign(id); err != nil || r.asked() != 2 {
		t.Fatalf("after Close: %v, %d prompts; want 2", err, r.asked())
	}
}

// TestPINCacheNormalAfterReset: a card reset between two operations (by
// another application) is verified again with the kept PIN, without asking.
func TestPINCacheNormalAfterReset(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, nil, vcard.DefaultPIN)
	defer id.Close()
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	r.soft.Reset()
	if _, err := r.soft.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil {
		t.Fatal(err)
	}
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	if r.asked() != 1 || r.verified(0x80) != 2 {
		t.Fatalf("%d prompts, %d VERIFYs; want 1 prompt, 2 VERIFYs", r.asked(), r.verified(0x80))
	}
}

// TestPINCacheTimed: under timed:30s the PIN serves for 30 s of the
// injected clock, then is asked again.
func TestPINCacheTimed(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, timedCache(30*time.Second, &now), vcard.DefaultPIN)
	defer id.Close()
	steps := []struct {
		advance time.Duration
		prompts int
	}{{0, 1}, {10 * time.Second, 1}, {19 * time.Second, 1}, {time.Second, 2}, {29 * time.Second, 2}, {31 * time.Second, 3}}
	for i, s := range steps {
		now = now.Add(s.advance)
		if err := r.sign(id); err != nil {
			t.Fatal(err)
		}
		if r.asked() != s.prompts || r.verified(0x80) != s.prompts {
			t.Fatalf("step %d (+%s): %d prompts, %d VERIFYs; want %d", i, s.advance, r.asked(), r.verified(0x80), s.prompts)
		}
	}
}

// TestPINCacheNone: none asks for every private-key operation.
func TestPINCacheNone(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheNone}, nil), vcard.DefaultPIN)
	defer id.Close()
	for range 3 {
		if err := r.sign(id); err != nil {
			t.Fatal(err)
		}
	}
	if r.asked() != 3 || r.verified(0x80) != 3 {
		t.Fatalf("%d prompts, %d VERIFYs; want 3 and 3", r.asked(), r.verified(0x80))
	}
}

// TestPINCacheAlwaysPrompt: always-prompt asks for every operation and
// leaves the card's PIN unverified after each.
func TestPINCacheAlwaysPrompt(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheAlwaysPrompt}, nil), vcard.DefaultPIN)
	defer id.Close()
	for i := range 2 {
		if err := r.sign(id); err != nil {
			t.Fatal(err)
		}
		if n, err := r.c.PINRetries(); err != nil || n != 3 {
			t.Fatalf("after operation %d the card answers %d tries (%v); want 3, not verified", i, n, err)
		}
	}
	if r.asked() != 2 || r.verified(0x80) != 2 {
		t.Fatalf("%d prompts, %d VERIFYs; want 2 and 2", r.asked(), r.verified(0x80))
	}
}

// TestPINPromptNamesRoleAndPurpose: the prompt says which PIN, for whom,
// what for, and the tries left.
func TestPINPromptNamesRoleAndPurpose(t *testing.T) {
	r := newPINRig(t, false, map[card.Slot]vcard.PINPolicy{card.SlotAuthentication: vcard.PINPolicyAlways}, nil)
	id := r.identity(card.SlotAuthentication, nil, vcard.DefaultPIN)
	defer id.Close()
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	pub := r.certs[card.SlotAuthentication].PublicKey.(*rsa.PublicKey)
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("k"))
	d, _ := id.Decrypter()
	if _, err := d.Decrypt(rand.Reader, ct, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PIV PIN for alice@EXAMPLE.COM to sign the logon request (3 tries left): ",
		"PIV PIN for alice@EXAMPLE.COM to decrypt the KDC's reply (3 tries left): ",
	}
	for i, w := range want {
		if got := r.prompts[i].Prompt(); got != w {
			t.Errorf("prompt %d: %q, want %q", i, got, w)
		}
	}
}

// TestGlobalPINRole: a card whose discovery object makes the global PIN
// primary is asked for its global PIN, verified on key reference 00.
func TestGlobalPINRole(t *testing.T) {
	const global = "24682468"
	r := newPINRig(t, true, nil, func(st *vcard.State) {
		if err := st.SetGlobalPIN(global, true); err != nil {
			t.Fatal(err)
		}
	})
	id := r.identity(card.SlotAuthentication, nil, global)
	defer id.Close()
	if err := r.sign(id); err != nil {
		t.Fatal(err)
	}
	if r.asked() != 1 || r.prompts[0].Role != card.RoleGlobalPIN || r.verified(0x00) != 1 || r.verified(0x80) != 0 {
		t.Fatalf("prompts %v, VERIFY 00: %d, 80: %d; want one global PIN", r.prompts, r.verified(0x00), r.verified(0x80))
	}
	rc := r.c.(card.RoleCard)
	roles, err := rc.Roles()
	if err != nil || len(roles) != 3 || roles[0] != card.RolePIN || roles[1] != card.RoleGlobalPIN || roles[2] != card.RolePUK {
		t.Fatalf("roles %v, %v", roles, err)
	}
	// A wrong global PIN costs one of its own tries and names it.
	var pe *card.PINError
	bad, _ := card.NewPIN([]byte("11112222"))
	if err := rc.VerifyRole(card.RoleGlobalPIN, bad); !errors.As(err, &pe) || pe.Role != card.RoleGlobalPIN || pe.Retries != 2 || err.Error() != "card: the card refused the global PIN (2 tries left)" {
		t.Fatalf("wrong global PIN: %v", err)
	}
	if n, err := card.Retries(r.c, card.RolePIN); err != nil || n != 3 {
		t.Fatalf("PIV PIN tries %d, %v: a global PIN try cost a PIV PIN try", n, err)
	}
}

// TestPINCancelSendsNothing: a prompt that ends with the context (Ctrl-C)
// fails the operation with context.Canceled and sends no VERIFY; so does a
// context cancelled before the operation, without asking.
func TestPINCancelSendsNothing(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	asked := 0
	id := identity.NewCard(r.c, card.SlotAuthentication, r.certs[card.SlotAuthentication], "alice@EXAMPLE.COM", identity.CardOptions{
		Context: ctx,
		Ask: func(ctx context.Context, _ card.PINRequest) (*card.PIN, error) {
			asked++
			cancel()
			return nil, ctx.Err()
		},
	})
	defer id.Close()
	if err := r.sign(id); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled prompt: %v", err)
	}
	if err := r.sign(id); !errors.Is(err, context.Canceled) || asked != 1 {
		t.Fatalf("after cancel: %v, asked %d times", err, asked)
	}
	if r.verified(0x80) != 0 {
		t.Fatalf("%d VERIFYs after a cancelled prompt", r.verified(0x80))
	}
}

// TestPINRefusedNotRetried: a wrong PIN is one VERIFY; the identity then
// neither asks nor sends again.
func TestPINRefusedNotRetried(t *testing.T) {
	r := newPINRig(t, false, nil, nil)
	id := r.identity(card.SlotAuthentication, card.NewPINCache(card.PINCachePolicy{Mode: card.PINCacheNone}, nil), "999999")
	defer id.Close()
	var pe *card.PINError
	if err := r.sign(id); !errors.As(err, &pe) || pe.Retries != 2 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := r.sign(id); !errors.As(err, &pe) || r.asked() != 1 || r.verified(0x80) != 1 {
		t.Fatalf("after a wrong PIN: %v, %d prompts, %d VERIFYs", err, r.asked(), r.verified(0x80))
	}
}
