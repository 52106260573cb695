package pkinit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
)

// TestSupportedCMSTypesVerify: every algorithm the client lists is one the
// verifier accepts for its key type, SHA-1 only when allowed, each by
// making a SignedData with it and verifying it.
func TestSupportedCMSTypesVerify(t *testing.T) {
	f := fixtures(t)
	for _, allowSHA1 := range []bool{false, true} {
		list := SupportedCMSTypes(allowSHA1)
		if len(list) != map[bool]int{false: 6, true: 8}[allowSHA1] {
			t.Fatalf("AllowSHA1 %v: %d algorithms", allowSHA1, len(list))
		}
		sawSHA1 := false
		for _, ai := range list {
			alg, ok := signatureAlgorithmOf(ai.Algorithm)
			sha1 := alg.hash == crypto.SHA1
			if !ok || alg.hash == 0 || (sha1 && !allowSHA1) || (sawSHA1 && !sha1) {
				t.Errorf("AllowSHA1 %v: %v listed (SHA-1 only when allowed, and last)", allowSHA1, ai.Algorithm)
			}
			sawSHA1 = sawSHA1 || sha1
			id := f.ecClient
			if alg.rsa {
				id = f.client
			}
			der := signedWithAlgorithm(t, id, alg)
			opts := VerifyOptions{AllowSHA1: allowSHA1}
			if sc, err := VerifySignedData(der, opts); err != nil || sc.Hash != alg.hash {
				t.Errorf("%s: %v", alg.name, err)
			}
			if alg.hash == crypto.SHA1 {
				if _, err := VerifySignedData(der, VerifyOptions{}); !errors.Is(err, ErrSHA1Signature) {
					t.Errorf("%s without AllowSHA1: %v", alg.name, err)
				}
			}
		}
	}
}

// signedWithAlgorithm is SignData's output with the SignerInfo's
// signatureAlgorithm set to alg's OID (SignData names RSA rsaEncryption).
func signedWithAlgorithm(t *testing.T, id testIdentity, alg signatureAlgorithm) []byte {
	t.Helper()
	der, err := SignData([]byte("content"), ContentData, id.key, id.cert, SignOptions{Rand: rand.Reader, Hash: alg.hash})
	if err != nil {
		t.Fatal(err)
	}
	root := parseDER(t, der)
	root.at(1, 0, 4, 0, 4).kids[0].prim = mustOID(t, alg.oid)
	return root.encode()
}

func mustOID(t *testing.T, oid asn1.ObjectIdentifier) []byte {
	b, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return b[2:]
}

// TestReplyHash: the KDC signs with the first SHA-2 algorithm the client
// lists for its key, SHA-256 when the list offers none (MIT krb5 1.20's
// des-ede3-cbc), SHA-1 only when that is all and allowed.
func TestReplyHash(t *testing.T) {
	f := fixtures(t)
	rsaKey, ecKey := f.kdc.key.Public(), f.ecClient.key.Public()
	ai := func(oids ...asn1.ObjectIdentifier) []pkix.AlgorithmIdentifier {
		var out []pkix.AlgorithmIdentifier
		for _, o := range oids {
			out = append(out, pkix.AlgorithmIdentifier{Algorithm: o})
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		list      []pkix.AlgorithmIdentifier
		key       crypto.PublicKey
		allowSHA1 bool
		want      crypto.Hash
	}{
		{"ours, RSA key", SupportedCMSTypes(false), rsaKey, false, crypto.SHA512},
		{"ours, EC key", SupportedCMSTypes(false), ecKey, false, crypto.SHA512},
		{"MIT 1.21, RSA key", ai(oidECDSAWithSHA512, oidECDSAWithSHA256, oidSHA512WithRSA, oidSHA256WithRSA), rsaKey, false, crypto.SHA512},
		{"RSA only, EC key", ai(oidSHA384WithRSA), ecKey, false, crypto.SHA256},
		{"digests, as Heimdal lists them", ai(oidSHA1WithRSA, oidSHA384, oidSHA256), ecKey, false, crypto.SHA384},
		{"MIT 1.20: des-ede3-cbc", ai(oidDESEDE3CBC), rsaKey, false, crypto.SHA256},
		{"none", nil, rsaKey, true, crypto.SHA256},
		{"SHA-1 only", ai(oidSHA1WithRSA, oidSHA1), rsaKey, false, crypto.SHA256},
		{"SHA-1 only, allowed", ai(oidSHA1WithRSA, oidSHA1), rsaKey, true, crypto.SHA1},
		{"SHA-1 first", ai(oidSHA1WithRSA, oidSHA256WithRSA), rsaKey, true, crypto.SHA256},
	} {
		ap := &AuthPack{SupportedCMSTypes: tc.list}
		if got := ap.ReplyHash(tc.key, tc.allowSHA1); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
