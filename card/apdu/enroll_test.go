package apdu_test

import (
	"bytes"
	"crypto"
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

func mgmKey(t *testing.T, alg card.ManagementAlgorithm, b []byte) *card.ManagementKey {
	t.Helper()
	k, err := card.NewManagementKey(alg, bytes.Clone(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seq(n int, from byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// TestManagementKeyAuthentication: mutual authentication with 3DES and
// AES-128/192/256 management keys; a wrong key is ErrManagementKey and
// leaves the card unauthenticated (GENERATE and PUT DATA refused); a
// 24-byte key of unnamed algorithm is tried as 3DES, then AES-192; a named
// algorithm the card does not use is ErrManagementKeyAlgorithm.
func TestManagementKeyAuthentication(t *testing.T) {
	p := cardtest.NewPKI(t)
	someKey := cardtest.Key(t, pki.P256)
	someCert := p.Issue(t, someKey, cardtest.LogonProfile("alice", ""))
	for _, tc := range []struct {
		name  string
		alg   vcard.ManagementKeyAlgorithm
		key   []byte
		offer card.ManagementAlgorithm // 0: by length
		short bool
	}{
		{"3des-default", vcard.ManagementKey3DES, vcard.DefaultManagementKey, card.Management3DES, false},
		{"3des-short-apdus", vcard.ManagementKey3DES, seq(24, 0x30), 0, true},
		{"aes128", vcard.ManagementKeyAES128, seq(16, 0x40), card.ManagementAES128, false},
		{"aes192", vcard.ManagementKeyAES192, seq(24, 0x50), card.ManagementAES192, false},
		{"aes192-by-length", vcard.ManagementKeyAES192, seq(24, 0x50), 0, false},
		{"aes256", vcard.ManagementKeyAES256, seq(32, 0x60), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := cardtest.NewState(t)
			if err := st.SetManagementKey(tc.alg, tc.key); err != nil {
				t.Fatal(err)
			}
			vc := vcard.New(st, vcard.Options{Generic: true})
			c, err := apdu.Open(vc, "in-process", apdu.Options{Short: tc.short})
			if err != nil {
				t.Fatal(err)
			}
			// Not authenticated: the card refuses both writes.
			if _, err := c.GenerateKey(card.SlotAuthentication, card.KeyP256); err == nil || !strings.Contains(err.Error(), "management key must be authenticated first") {
				t.Fatalf("GENERATE without the management key: %v", err)
			}
			if err := c.PutCertificate(card.SlotAuthentication, someCert); err == nil || !strings.Contains(err.Error(), "management key") {
				t.Fatalf("PUT DATA without the management key: %v", err)
			}
			wrong := bytes.Clone(tc.key)
			wrong[0] ^= 0xFF
			if err := c.AuthenticateManagementKey(mgmKey(t, tc.offer, wrong)); !errors.Is(err, card.ErrManagementKey) {
				t.Fatalf("wrong management key: %v", err)
			}
			if _, err := c.GenerateKey(card.SlotAuthentication, card.KeyP256); err == nil {
				t.Fatal("GENERATE after a wrong management key succeeded")
			}
			if _, ok := st.PublicKey(byte(card.SlotAuthentication)); ok {
				t.Fatal("a key was generated after a wrong management key")
			}
			if err := c.AuthenticateManagementKey(mgmKey(t, tc.offer, tc.key)); err != nil {
				t.Fatalf("right management key: %v", err)
			}
			pub, err := c.GenerateKey(card.SlotAuthentication, card.KeyP256)
			if err != nil {
				t.Fatal(err)
			}
			if onCard, _ := st.PublicKey(byte(card.SlotAuthentication)); !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(onCard) {
				t.Fatal("the public key read is not the card's")
			}
			if err := c.PutCertificate(card.SlotAuthentication, someCert); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("algorithm-mismatch", func(t *testing.T) {
		st := cardtest.NewState(t) // 3DES
		c, err := apdu.Open(vcard.New(st, vcard.Options{Generic: true}), "in-process", apdu.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AuthenticateManagementKey(mgmKey(t, card.ManagementAES192, vcard.DefaultManagementKey)); !errors.Is(err, card.ErrManagementKeyAlgorithm) {
			t.Fatalf("AES-192 offered to a 3DES card: %v", err)
		}
		if err := c.AuthenticateManagementKey(mgmKey(t, card.ManagementAES128, seq(16, 1))); !errors.Is(err, card.ErrManagementKeyAlgorithm) {
			t.Fatalf("AES-128 offered to a 3DES card: %v", err)
		}
		if err := c.AuthenticateManagementKey(card.DefaultManagementKey()); err != nil {
			t.Fatalf("the default key: %v", err)
		}
	})
}

// TestGenerateSignPutReadBack: RSA-2048, P-256 and P-384 keys generated on
// the card (the public key parsed from 7F49 is the card's), a signature by
// the new key verifies with it, the certificate written with PUT DATA reads
// back byte for byte through GET DATA, over extended APDUs and over short
// ones (command chaining, GET RESPONSE), on the generic and the YubiKey
// flavour of the software card.
func TestGenerateSignPutReadBack(t *testing.T) {
	p := cardtest.NewPKI(t)
	for _, tc := range []struct {
		alg   card.KeyAlgorithm
		slot  card.Slot
		opt   vcard.Options
		short bool
	}{
		{card.KeyRSA2048, card.SlotAuthentication, vcard.Options{Generic: true}, false},
		{card.KeyRSA2048, card.SlotAuthentication, vcard.Options{}, true},
		{card.KeyP256, card.SlotAuthentication, vcard.Options{Generic: true}, false},
		{card.KeyP256, card.SlotKeyManagement, vcard.Options{Generic: true}, true},
		{card.KeyP384, card.SlotRetiredFirst, vcard.Options{Generic: true}, false},
	} {
		t.Run(fmt.Sprintf("%s-%s-short=%v", tc.alg, tc.slot, tc.short), func(t *testing.T) {
			st := cardtest.NewState(t)
			c, err := apdu.Open(vcard.New(st, tc.opt), "in-process", apdu.Options{Short: tc.short})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.AuthenticateManagementKey(card.DefaultManagementKey()); err != nil {
				t.Fatal(err)
			}
			pub, err := c.GenerateKey(tc.slot, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			onCard, ok := st.PublicKey(byte(tc.slot))
			if !ok || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(onCard) {
				t.Fatalf("generated %T, the card holds %T", pub, onCard)
			}
			if err := c.VerifyPIN(pin(t, vcard.DefaultPIN)); err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("enroll"))
			sig, err := c.Sign(tc.slot, pub, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !card.KeyMatches(pub, digest[:], sig, crypto.SHA256) {
				t.Fatal("the new key's signature does not verify with the public key read")
			}
			cert, err := p.CA.Issue(pub, cardtest.LogonProfile("alice", "EXAMPLE.COM"))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.PutCertificate(tc.slot, cert); err != nil {
				t.Fatal(err)
			}
			back, err := c.Certificate(tc.slot)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back.Raw, cert.Raw) {
				t.Fatal("the certificate read back differs")
			}
			if der, ok := st.Certificate(byte(tc.slot)); !ok || !bytes.Equal(der, cert.Raw) {
				t.Fatal("the card's object does not hold the certificate")
			}
		})
	}
}

// TestGenerateRefused: an algorithm the card lacks, and a slot that is no
// key slot, change nothing.
func TestGenerateRefused(t *testing.T) {
	st := cardtest.NewState(t)
	c, err := apdu.Open(vcard.New(st, vcard.Options{Generic: true}), "in-process", apdu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticateManagementKey(card.DefaultManagementKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GenerateKey(card.SlotAuthentication, card.KeyAlgorithm(0x99)); err == nil {
		t.Fatal("an unknown algorithm was accepted")
	}
	if _, err := c.GenerateKey(card.Slot(0x9B), card.KeyP256); err == nil {
		t.Fatal("9B is no key slot")
	}
	if _, ok := st.PublicKey(byte(card.SlotAuthentication)); ok {
		t.Fatal("a key appeared")
	}
}

// TestManagementKeyIsSecret: a management key formats as [REDACTED] and
// its constructors check lengths and hex.
func TestManagementKeyIsSecret(t *testing.T) {
	k := card.DefaultManagementKey()
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s %x", k, k, k, k, k), fmt.Sprint(*k)} {
		if strings.Contains(s, "0102") || strings.Contains(s, "\x01\x02") || !strings.Contains(s, "[REDACTED]") {
			t.Fatalf("formatted: %q", s)
		}
	}
	if k.Algorithm() != card.Management3DES || !k.MayBeAES192() {
		t.Fatalf("default key: %s, may be AES-192 %v", k.Algorithm(), k.MayBeAES192())
	}
	k.Wipe()
	if err := k.Use(func([]byte) error { return nil }); err == nil {
		t.Fatal("a wiped key was usable")
	}
	for _, tc := range []struct {
		alg  card.ManagementAlgorithm
		text string
		ok   bool
	}{
		{0, "010203040506070801020304050607080102030405060708", true},
		{0, "01:02:03:04:05:06:07:08:01:02:03:04:05:06:07:08\n", true},
		{card.ManagementAES256, "010203040506070801020304050607080102030405060708", false},
		{0, "0102", false},
		{0, "zz0203040506070801020304050607080102030405060708", false},
	} {
		k, err := card.ParseManagementKey(tc.alg, []byte(tc.text))
		if (err == nil) != tc.ok {
			t.Errorf("%q as %s: %v", tc.text, tc.alg, err)
		}
		if err != nil && strings.Contains(err.Error(), "0102") {
			t.Errorf("the error shows the key: %v", err)
		}
		k.Wipe()
	}
}
