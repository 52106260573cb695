package pkinit

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/sclogon/sclogon/krberror"
)

var (
	testReqBody = []byte{0x30, 0x03, 0x02, 0x01, 0x07}
	testASReq   = []byte{0x6a, 0x03, 0x02, 0x01, 0x05}
	testInputs  = KDFInputs{Client: principal("alice@EXAMPLE.ORG"), KDC: principal("krbtgt/EXAMPLE.ORG@EXAMPLE.ORG"), ASReq: testASReq}
)

func testAuthPack(t testing.TB, key *DHKey, kdfs []KDF) *AuthPack {
	ap := &AuthPack{
		PKAuthenticator: PKAuthenticator{Cusec: 123, CTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Nonce: 0xfedcba98, PAChecksum: PAChecksum(testReqBody)},
		SupportedKDFs:   kdfs,
	}
	if key != nil {
		spki, err := key.PublicKeyInfo()
		if err != nil {
			t.Fatal(err)
		}
		ap.ClientPublicValue = spki
	}
	return ap
}

func TestExchange(t *testing.T) {
	f := fixtures(t)
	for _, tc := range []struct {
		name   string
		client testIdentity
		mk     func() (*DHKey, error)
		kdfs   []KDF
		nonce  []byte
	}{
		{"dh14-octetstring2key", f.client, func() (*DHKey, error) { return NewDHKey(MODPGroup14, rand.Reader) }, nil, nil},
		{"dh14-nonces", f.client, func() (*DHKey, error) { return NewDHKey(MODPGroup14, rand.Reader) }, nil, []byte("client-nonce-32-bytes-long......")},
		{"dh14-sha256", f.client, func() (*DHKey, error) { return NewDHKey(MODPGroup14, rand.Reader) }, []KDF{KDFSHA256, KDFSHA1}, nil},
		{"ecdh-p256-sha512", f.ecClient, func() (*DHKey, error) { return NewECDHKey(CurveP256, rand.Reader) }, []KDF{KDFSHA512}, nil},
		{"ecdh-p384", f.ecClient, func() (*DHKey, error) { return NewECDHKey(CurveP384, rand.Reader) }, []KDF{KDFSHA384}, nil},
		{"ecdh-p521", f.client, func() (*DHKey, error) { return NewECDHKey(CurveP521, rand.Reader) }, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.mk()
			if err != nil {
				t.Fatal(err)
			}
			ap := testAuthPack(t, key, tc.kdfs)
			ap.ClientDHNonce = tc.nonce
			reqDER, err := BuildPKASReq(ap, tc.client.key, tc.client.cert, SignOptions{Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			// KDC side.
			req, err := ParsePKASReq(reqDER)
			if err != nil {
				t.Fatal(err)
			}
			gotAP, sc, err := VerifyAuthPack(req, testReqBody, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sc.Signer.SerialNumber.Cmp(tc.client.cert.SerialNumber) != 0 || gotAP.PKAuthenticator.Nonce != 0xfedcba98 {
				t.Fatalf("signer %v, authpack %+v", sc.Signer.Subject, gotAP.PKAuthenticator)
			}
			rep, err := BuildDHReply(DHReplyParams{
				AuthPack: gotAP, KDFs: []KDF{KDFSHA1, KDFSHA256, KDFSHA384, KDFSHA512}, EType: 18, KDFInputs: testInputs,
				ServerDHNonce: []byte("server-nonce"), Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader,
			})
			if err != nil {
				t.Fatal(err)
			}
			// Client side.
			k, ksc, err := ClientReplyKey(rep.PKASRep, ClientReplyParams{Key: key, Nonce: ap.PKAuthenticator.Nonce, ClientDHNonce: tc.nonce, EType: 18, KDFInputs: testInputs})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.KeyValue, rep.ReplyKey.KeyValue) || len(k.KeyValue) != 32 {
				t.Errorf("client key %x, KDC key %x", k.KeyValue, rep.ReplyKey.KeyValue)
			}
			if ksc.Signer.SerialNumber.Cmp(f.kdc.cert.SerialNumber) != 0 {
				t.Errorf("KDC signer %v", ksc.Signer.Subject)
			}
			// The wrong nonce is rejected.
			_, _, err = ClientReplyKey(rep.PKASRep, ClientReplyParams{Key: key, Nonce: 1, EType: 18, KDFInputs: testInputs})
			if !errors.Is(err, ErrNonceMismatch) {
				t.Errorf("wrong nonce: %v", err)
			}
		})
	}
}

func TestKeyTransportExchange(t *testing.T) {
	f := fixtures(t)
	for _, etype := range []int32{17, 18, 23} {
		rep, err := BuildKeyTransportReply(KeyTransportParams{ClientCertificate: f.client.cert, EType: etype, ASReq: testASReq, Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		p := ClientReplyParams{EType: etype, KDFInputs: testInputs, Certificate: f.client.cert, Decrypter: f.client.key.(*rsa.PrivateKey), Rand: rand.Reader}
		k, _, err := ClientReplyKey(rep.PKASRep, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.KeyValue, rep.ReplyKey.KeyValue) {
			t.Errorf("etype %d: keys differ", etype)
		}
		p.ASReq = []byte("another request")
		if _, _, err := ClientReplyKey(rep.PKASRep, p); !errors.Is(err, ErrASChecksumMismatch) {
			t.Errorf("etype %d, other AS-REQ: %v", etype, err)
		}
	}
}

func TestVerifyAuthPackRejects(t *testing.T) {
	f := fixtures(t)
	ap := testAuthPack(t, nil, nil)
	good, err := BuildPKASReq(ap, f.client.key, f.client.cert, SignOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := ParsePKASReq(good)
	if _, _, err := VerifyAuthPack(req, []byte("other body"), VerifyOptions{}); !errors.Is(err, ErrPAChecksumMismatch) || ErrorCode(err) != krberror.APModified {
		t.Errorf("other body: %v", err)
	}
	ap.PKAuthenticator.PAChecksum = nil
	noSum, _ := BuildPKASReq(ap, f.client.key, f.client.cert, SignOptions{Rand: rand.Reader})
	req, _ = ParsePKASReq(noSum)
	if _, _, err := VerifyAuthPack(req, testReqBody, VerifyOptions{}); !errors.Is(err, ErrPAChecksumMissing) || ErrorCode(err) != krberror.PAChecksumMustBeIncluded {
		t.Errorf("no paChecksum: %v", err)
	}
	ap.PKAuthenticator.PAChecksum = PAChecksum(testReqBody)
	ap.PKAuthenticator.PAChecksum2, _ = NewPAChecksum2([]byte("wrong"), KDFSHA256)
	bad2, _ := BuildPKASReq(ap, f.client.key, f.client.cert, SignOptions{Rand: rand.Reader})
	req, _ = ParsePKASReq(bad2)
	if _, _, err := VerifyAuthPack(req, testReqBody, VerifyOptions{}); !errors.Is(err, ErrPAChecksumMismatch) {
		t.Errorf("bad paChecksum2: %v", err)
	}
	sha1Req, _ := BuildPKASReq(testAuthPack(t, nil, nil), f.client.key, f.client.cert, SignOptions{Rand: rand.Reader, Hash: 3 /* crypto.SHA1 */})
	req, _ = ParsePKASReq(sha1Req)
	if _, _, err := VerifyAuthPack(req, testReqBody, VerifyOptions{}); !errors.Is(err, ErrUnsupportedDigest) || ErrorCode(err) != krberror.DigestInSignedDataNotAccepted {
		t.Errorf("SHA-1 without policy: %v", err)
	}
	if _, _, err := VerifyAuthPack(req, testReqBody, VerifyOptions{AllowSHA1: true}); err != nil {
		t.Errorf("SHA-1 with policy: %v", err)
	}
}

func TestDHValidation(t *testing.T) {
	key, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := MODPGroup14.params()
	pm1 := new(big.Int).Sub(gp.p, big.NewInt(1))
	nonResidue := new(big.Int).Sub(gp.p, big.NewInt(4)) // -4: -1 is a non-residue as p ≡ 3 (mod 4), so y^q ≡ -1
	for name, y := range map[string]*big.Int{"zero": big.NewInt(0), "one": big.NewInt(1), "p-1": pm1, "p": gp.p, "subgroup": nonResidue} {
		der, _ := marshal(y, "y")
		if _, err := key.SharedSecret(der); !errors.Is(err, ErrBadPublicValue) || ErrorCode(err) != krberror.DHKeyParametersNotAccepted {
			t.Errorf("%s: %v", name, err)
		}
	}
	k2, _ := NewDHKey(MODPGroup2, rand.Reader)
	spki, _ := k2.PublicKeyInfo()
	if _, err := ParseClientPublicValue(spki, AgreementPolicy{}); !errors.Is(err, ErrWeakGroup) {
		t.Errorf("group 2 without policy: %v", err)
	}
	if cp, err := ParseClientPublicValue(spki, AgreementPolicy{AllowGroup2: true}); err != nil || cp.Group != MODPGroup2 {
		t.Errorf("group 2 with policy: %v", err)
	}
	ec, _ := NewECDHKey(CurveP256, rand.Reader)
	bad := ec.PublicValue()
	bad[len(bad)-1] ^= 1
	if _, err := ec.SharedSecret(bad); !errors.Is(err, ErrBadPublicValue) {
		t.Errorf("point off the curve: %v", err)
	}
}

// TestDHSharedSecretLeadingZero pins RFC 4556 §3.2.3.1: a secret whose top
// byte is zero keeps its full modulus length, and the key is derived from
// the padded form.
func TestDHSharedSecretLeadingZero(t *testing.T) {
	r := mrand.NewChaCha8([32]byte{7})
	a, _ := NewDHKey(MODPGroup2, r)
	for i := 0; i < 4096; i++ {
		b, _ := NewDHKey(MODPGroup2, r)
		z := new(big.Int).Exp(b.y, new(big.Int).SetBytes(a.x), a.gp.p)
		if z.BitLen() > 1024-8 {
			continue
		}
		s1, err := a.SharedSecret(b.PublicValue())
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := b.SharedSecret(a.PublicValue())
		if len(s1) != 128 || s1[0] != 0 || !bytes.Equal(s1, s2) {
			t.Fatalf("secret %x (len %d), peer %x", s1[:4], len(s1), s2[:4])
		}
		padded, _ := OctetString2Key(s1, nil, nil, 18)
		stripped, _ := OctetString2Key(z.Bytes(), nil, nil, 18)
		if bytes.Equal(padded.KeyValue, stripped.KeyValue) {
			t.Fatal("padding made no difference")
		}
		return
	}
	t.Fatal("no secret with a leading zero found")
}

// TestReusedServerKey: a KDC that reuses its key pair announces when it
// expires, and every client still derives the KDC's reply key.
func TestReusedServerKey(t *testing.T) {
	f := fixtures(t)
	server, err := NewECDHKey(CurveP256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	var publics [][]byte
	for i := range 2 {
		client, err := NewECDHKey(CurveP256, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ap := testAuthPack(t, client, []KDF{KDFSHA256})
		rep, err := BuildDHReply(DHReplyParams{
			AuthPack: ap, KDFs: []KDF{KDFSHA256}, EType: 18, KDFInputs: testInputs,
			Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader,
			ServerKey:           func(*ClientPublic) (*DHKey, error) { return server, nil },
			ServerKeyExpiration: expires,
		})
		if err != nil {
			t.Fatal(err)
		}
		k, sc, err := ClientReplyKey(rep.PKASRep, ClientReplyParams{Key: client, Nonce: ap.PKAuthenticator.Nonce, EType: 18, KDFInputs: testInputs})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if !bytes.Equal(k.KeyValue, rep.ReplyKey.KeyValue) {
			t.Fatalf("client %d derived another key", i)
		}
		info, err := ParseKDCDHKeyInfo(sc.Content)
		if err != nil {
			t.Fatal(err)
		}
		if !info.DHKeyExpiration.Equal(expires) {
			t.Errorf("dhKeyExpiration %v, want %v", info.DHKeyExpiration, expires)
		}
		publics = append(publics, info.SubjectPublicKey)
	}
	if !bytes.Equal(publics[0], publics[1]) {
		t.Error("the KDC's public value changed although its key was reused")
	}
}

// TestValidatedClientPublic: a KDC that passes the public value it already
// validated gets the same reply key; a ClientPublic parsed from another
// AuthPack is not trusted but parsed anew.
func TestValidatedClientPublic(t *testing.T) {
	f := fixtures(t)
	for _, kx := range dhAndECDH {
		client, err := NewAgreementKey(kx.curve, kx.group, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ap := testAuthPack(t, client, nil)
		pub, err := ParseClientPublicValue(ap.ClientPublicValue, AgreementPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		other, err := NewAgreementKey(kx.curve, kx.group, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		otherPub, err := ParseClientPublicValue(testAuthPack(t, other, nil).ClientPublicValue, AgreementPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		for _, given := range []*ClientPublic{pub, otherPub} {
			rep, err := BuildDHReply(DHReplyParams{AuthPack: ap, ClientPublic: given, EType: 18, KDFInputs: testInputs,
				Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			k, _, err := ClientReplyKey(rep.PKASRep, ClientReplyParams{Key: client, Nonce: ap.PKAuthenticator.Nonce, EType: 18, KDFInputs: testInputs})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k.KeyValue, rep.ReplyKey.KeyValue) {
				t.Fatal("client and KDC keys differ")
			}
		}
	}
}

// TestDHNoncesOnlyWithKeyReuse: a KDC answers a clientDHNonce with a
// serverDHNonce only when it reuses its key (RFC 4556 §3.2.3.1: present if
// and only if dhKeyExpiration is); otherwise the nonces take no part, as with
// MIT's KDC, and the client still derives the KDC's key with octetstring2key.
func TestDHNoncesOnlyWithKeyReuse(t *testing.T) {
	f := fixtures(t)
	server, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, reuse := range []bool{false, true} {
		client, err := NewDHKey(MODPGroup14, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ap := testAuthPack(t, client, nil)
		ap.ClientDHNonce = bytes.Repeat([]byte{0xc1}, 32)
		params := DHReplyParams{AuthPack: ap, EType: 18, KDFInputs: testInputs, ServerDHNonce: bytes.Repeat([]byte{0x5e}, 32),
			Identity: KDCSigner{f.kdc.key, f.kdc.cert, SignOptions{}}, Rand: rand.Reader}
		if reuse {
			params.ServerKey = func(*ClientPublic) (*DHKey, error) { return server, nil }
			params.ServerKeyExpiration = time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
		}
		rep, err := BuildDHReply(params)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParsePKASRep(rep.PKASRep)
		if err != nil {
			t.Fatal(err)
		}
		if got := parsed.DHInfo.ServerDHNonce != nil; got != reuse {
			t.Fatalf("reuse %v: serverDHNonce sent %v", reuse, got)
		}
		k, _, err := ClientReplyKey(rep.PKASRep, ClientReplyParams{Key: client, Nonce: ap.PKAuthenticator.Nonce, ClientDHNonce: ap.ClientDHNonce, EType: 18, KDFInputs: testInputs})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.KeyValue, rep.ReplyKey.KeyValue) {
			t.Fatalf("reuse %v: client and KDC keys differ", reuse)
		}
		plain, err := OctetString2Key(mustSecret(t, client, server, parsed, reuse), nil, nil, 18)
		if err != nil {
			t.Fatal(err)
		}
		if withNonces := !bytes.Equal(plain.KeyValue, rep.ReplyKey.KeyValue); withNonces != reuse {
			t.Fatalf("reuse %v: nonces mixed into the key: %v", reuse, withNonces)
		}
	}
}

// mustSecret recomputes the shared secret of a reply from the client's side.
func mustSecret(t *testing.T, client, server *DHKey, rep *PKASRep, reuse bool) []byte {
	t.Helper()
	sc, err := VerifySignedData(rep.DHInfo.DHSignedData, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseKDCDHKeyInfo(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	if reuse && !bytes.Equal(info.SubjectPublicKey, server.PublicValue()) {
		t.Fatal("the reused key was not used")
	}
	s, err := client.SharedSecret(info.SubjectPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServerDHNonceWithoutExpiration: RFC 4556 §3.2.3.1 sends serverDHNonce
// if and only if dhKeyExpiration; a signed KDCDHKeyInfo without the expiry
// beside a serverDHNonce is refused before the secret is used (the fault
// `sclogon kdc conform` calls server-dh-nonce-without-expiration).
func TestServerDHNonceWithoutExpiration(t *testing.T) {
	f := fixtures(t)
	client, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	server, err := NewDHKey(MODPGroup14, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ap := testAuthPack(t, client, nil)
	ap.ClientDHNonce = bytes.Repeat([]byte{0xc1}, 32)
	for _, expiry := range []time.Time{{}, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)} {
		info, err := (&KDCDHKeyInfo{SubjectPublicKey: server.PublicValue(), Nonce: ap.PKAuthenticator.Nonce, DHKeyExpiration: expiry}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		signed, err := SignData(info, ContentDHKeyData, f.kdc.key, f.kdc.cert, SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := (&PKASRep{DHInfo: &DHRepInfo{DHSignedData: signed, ServerDHNonce: bytes.Repeat([]byte{0x5e}, 32)}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = ClientReplyKey(rep, ClientReplyParams{Key: client, Nonce: ap.PKAuthenticator.Nonce, ClientDHNonce: ap.ClientDHNonce, EType: 18, KDFInputs: testInputs})
		if refused := errors.Is(err, ErrMalformed); refused != expiry.IsZero() {
			t.Errorf("dhKeyExpiration %v: err %v", expiry, err)
		}
	}
}
