package apdu_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/cardtest"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs/pki"
)

func pin(t *testing.T, s string) *card.PIN {
	t.Helper()
	p, err := card.NewPIN([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenericCardInProcess drives the generic client over the software card
// in both of its modes: certificates, identity, PIN status, verify, wrong
// PIN, blocked PIN without VERIFY, unblock, change, RSA and ECDSA signatures
// and RSA decryption.
func TestGenericCardInProcess(t *testing.T) {
	p := cardtest.NewPKI(t)
	rsaKey, ecKey := cardtest.Key(t, pki.RSA2048), cardtest.Key(t, pki.P256)
	rsaCert := p.Issue(t, rsaKey, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
	ecCert := p.Issue(t, ecKey, cardtest.LogonProfile("alice-ec", ""))
	for _, tc := range []struct {
		name string
		opt  vcard.Options
		apdu apdu.Options
	}{
		{"generic", vcard.Options{Generic: true}, apdu.Options{}},
		{"yubikey", vcard.Options{}, apdu.Options{}},
		{"short-apdus", vcard.Options{Generic: true}, apdu.Options{Short: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := cardtest.NewState(t)
			cardtest.Put(t, st, card.SlotAuthentication, rsaKey, rsaCert)
			cardtest.Put(t, st, card.SlotKeyManagement, ecKey, ecCert)
			var verifies int
			opt := tc.opt
			opt.Observe = func(e vcard.Exchange) {
				if e.INS == 0x20 && e.Nc > 0 {
					verifies++
				}
			}
			vc := vcard.New(st, opt)
			c, err := apdu.Open(vc, "in-process", tc.apdu)
			if err != nil {
				t.Fatal(err)
			}
			id, err := c.ID()
			guid := st.GUID()
			if err != nil || id.Kind != "guid" || id.Value != fmt.Sprintf("%x", guid[:]) || id.Version == "" {
				t.Fatalf("ID %+v, %v", id, err)
			}
			list, err := c.Certificates()
			if err != nil || len(list) != 2 || list[0].Slot != card.SlotAuthentication || list[1].Slot != card.SlotKeyManagement ||
				!bytes.Equal(list[0].Cert.Raw, rsaCert.Raw) || !bytes.Equal(list[1].Cert.Raw, ecCert.Raw) {
				t.Fatalf("certificates %v, %v", list, err)
			}
			if _, err := c.Certificate(card.SlotSignature); !errors.Is(err, card.ErrNotFound) {
				t.Errorf("empty slot: %v", err)
			}
			digest := sha256.Sum256([]byte("AuthPack"))
			if _, err := c.Sign(card.SlotAuthentication, rsaKey.Public(), digest[:], crypto.SHA256); !errors.Is(err, card.ErrSecurityStatus) {
				t.Errorf("sign before VERIFY: %v", err)
			}
			if n, err := c.PINRetries(); err != nil || n != 3 {
				t.Fatalf("retries %d, %v", n, err)
			}
			var pe *card.PINError
			if err := c.VerifyPIN(pin(t, "999999")); !errors.As(err, &pe) || pe.Retries != 2 || st.PINTriesLeft() != 2 {
				t.Fatalf("wrong PIN: %v (card: %d left)", err, st.PINTriesLeft())
			}
			if err := c.VerifyPIN(pin(t, vcard.DefaultPIN)); err != nil {
				t.Fatal(err)
			}
			if n, err := c.PINRetries(); err != nil || n != -1 {
				t.Errorf("retries once verified: %d, %v", n, err)
			}
			sig, err := c.Sign(card.SlotAuthentication, rsaKey.Public(), digest[:], crypto.SHA256)
			if err != nil || rsa.VerifyPKCS1v15(rsaKey.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig) != nil {
				t.Fatalf("RSA signature: %v", err)
			}
			sig, err = c.Sign(card.SlotKeyManagement, ecKey.Public(), digest[:], crypto.SHA256)
			if err != nil || !ecdsa.VerifyASN1(ecKey.Public().(*ecdsa.PublicKey), digest[:], sig) {
				t.Fatalf("ECDSA signature: %v", err)
			}
			secret := []byte("a 32-byte AES key for the reply")
			//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5 (rsaEncryption): the card decrypts what a KDC sends
			ct, _ := rsa.EncryptPKCS1v15(rand.Reader, rsaKey.Public().(*rsa.PublicKey), secret)
			pt, err := c.Decrypt(card.SlotAuthentication, rsaKey.Public(), ct)
			if err != nil || !bytes.Equal(pt, secret) {
				t.Fatalf("decrypt: %q, %v", pt, err)
			}
			// Block the PIN: afterwards PINRetries says 0, and a caller that
			// asks first sends no VERIFY.
			vc.Reset()
			if _, err := apdu.Open(vc, "in-process", tc.apdu); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				_ = c.VerifyPIN(pin(t, "999999"))
			}
			if err := c.VerifyPIN(pin(t, "999999")); !errors.Is(err, card.ErrPINBlocked) && !(errors.As(err, &pe) && pe.Retries == 0) {
				t.Fatalf("third wrong PIN: %v", err)
			}
			before := verifies
			if n, err := c.PINRetries(); err != nil || n != 0 || verifies != before {
				t.Fatalf("blocked: retries %d, %v; %d VERIFYs sent", n, err, verifies-before)
			}
			if err := c.VerifyPIN(pin(t, vcard.DefaultPIN)); !errors.Is(err, card.ErrPINBlocked) {
				t.Errorf("right PIN on a blocked card: %v", err)
			}
			if err := c.UnblockPIN(pin(t, "00000000"), pin(t, "654321")); !errors.As(err, &pe) || !pe.PUK || pe.Retries != 2 {
				t.Errorf("wrong PUK: %v", err)
			}
			if err := c.UnblockPIN(pin(t, vcard.DefaultPUK), pin(t, "654321")); err != nil {
				t.Fatal(err)
			}
			if err := c.ChangePIN(pin(t, "654321"), pin(t, "24681357")); err != nil {
				t.Fatal(err)
			}
			if err := c.VerifyPIN(pin(t, "24681357")); err != nil || st.PINTriesLeft() != 3 {
				t.Fatalf("new PIN: %v", err)
			}
		})
	}
}

// TestCachedCard: the second read of a known card costs its identity only,
// a new CHUID (a re-provisioned card) misses the cache, and the files are
// 0600.
func TestCachedCard(t *testing.T) {
	p := cardtest.NewPKI(t)
	key := cardtest.Key(t, pki.P256)
	st := cardtest.NewState(t)
	cardtest.Put(t, st, card.SlotAuthentication, key, p.Issue(t, key, cardtest.LogonProfile("alice", "")))
	vc := vcard.New(st, vcard.Options{Generic: true})
	cache := &card.Cache{Dir: t.TempDir()}
	read := func() (uint64, bool) {
		before := vc.APDUs()
		c, err := apdu.Open(vc, "in-process", apdu.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cc := card.WithCache(c, cache)
		list, err := cc.Certificates()
		if err != nil || len(list) != 1 {
			t.Fatalf("%v, %v", list, err)
		}
		return vc.APDUs() - before, cc.Hit
	}
	cold, hit := read()
	if hit {
		t.Fatal("hit on an empty cache")
	}
	warm, hit := read()
	if !hit || warm > cold/2 {
		t.Fatalf("warm read: %d APDUs (hit %v), cold %d", warm, hit, cold)
	}
	t.Logf("certificates of a card: cold %d APDUs, warm %d", cold, warm)
	if warm != 2 {
		t.Errorf("warm read took %d APDUs, want 2 (SELECT, GET DATA CHUID)", warm)
	}
	// Another card: a miss.
	st2 := cardtest.NewState(t)
	vc2 := vcard.New(st2, vcard.Options{Generic: true})
	c2, _ := apdu.Open(vc2, "other", apdu.Options{})
	cc2 := card.WithCache(c2, cache)
	if list, err := cc2.Certificates(); err != nil || len(list) != 0 || cc2.Hit {
		t.Fatalf("other card: %v, %v, hit %v", list, err, cc2.Hit)
	}
	entries, _ := filepathGlob(cache.Dir)
	for _, e := range entries {
		if e.mode != 0o600 {
			t.Errorf("%s has mode %o", e.name, e.mode)
		}
		if strings.Contains(e.body, vcard.DefaultPIN) {
			t.Errorf("%s holds the PIN", e.name)
		}
	}
}
