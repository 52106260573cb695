package pkinit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/krberror"
)

// The heimdal-7.8-* files are CMS as Heimdal 7.8's hx509 (Heimdal's and
// Samba's KDC and kinit) encodes it, made by testdata/gen-heimdal.sh.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testdataCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func heimdalClientKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, "heimdal-7.8-client.key"))
	if blk == nil {
		t.Fatal("heimdal-7.8-client.key: no PEM")
	}
	k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hx509SKI is how hx509 writes a subjectKeyIdentifier signer or recipient:
// [0] constructed around an OCTET STRING.
func hx509SKI(c *x509.Certificate) []byte {
	return append([]byte{0xa0, byte(len(c.SubjectKeyId) + 2), 0x04, byte(len(c.SubjectKeyId))}, c.SubjectKeyId...)
}

// TestHeimdalKDCDHReplies: the client reads a Heimdal KDC's signed
// KDCDHKeyInfo, whose signer is a constructed [0] subjectKeyIdentifier; a
// SHA-1 one (what the KDC signs for a client without supportedCMSTypes) only
// with AllowSHA1.
func TestHeimdalKDCDHReplies(t *testing.T) {
	kdc := testdataCert(t, "heimdal-7.8-kdc.pem")
	for _, tc := range []struct {
		file string
		hash crypto.Hash
		ski  bool
	}{
		{"heimdal-7.8-kdc-dhkeydata-sha512.der", crypto.SHA512, true},
		{"heimdal-7.8-kdc-dhkeydata-mixed.der", crypto.SHA512, true}, // signed over SHA-256
		{"heimdal-7.8-kdc-dhkeydata-by-name.der", crypto.SHA512, false},
		{"heimdal-7.8-kdc-dhkeydata-sha1.der", crypto.SHA1, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			signed := readTestdata(t, tc.file)
			if tc.ski && !bytes.Contains(signed, hx509SKI(kdc)) {
				t.Fatalf("the vector has no constructed [0] subjectKeyIdentifier")
			}
			rep, err := (&PKASRep{DHInfo: &DHRepInfo{DHSignedData: signed}}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			key, err := NewECDHKey(CurveP256, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			p := ClientReplyParams{Key: key, Nonce: 0x12345678, EType: 18, KDFInputs: testInputs}
			_, sc, err := ClientReplyKey(rep, p)
			if tc.hash == crypto.SHA1 {
				if !errors.Is(err, ErrSHA1Signature) || !errors.Is(err, ErrUnsupportedDigest) || !strings.Contains(err.Error(), "sha1WithRSAEncryption") {
					t.Fatalf("SHA-1 reply: %v, want ErrSHA1Signature naming the algorithm", err)
				}
				if ErrorCode(err) != krberror.DigestInSignedDataNotAccepted {
					t.Errorf("ErrorCode %d", ErrorCode(err))
				}
				p.Verify.AllowSHA1 = true
				_, sc, err = ClientReplyKey(rep, p)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sc.Signer.Equal(kdc) || sc.Hash != tc.hash || sc.ContentType != ContentDHKeyData {
				t.Errorf("signer %v, hash %v, content type %v", sc.Signer.Subject, sc.Hash, sc.ContentType)
			}
		})
	}
}

// TestHeimdalKDCEncKeyPack: the client opens a Heimdal KDC's RSA
// key-transport reply: an EnvelopedData whose recipient is a constructed [0]
// subjectKeyIdentifier, around a bare SignedData whose signer is one too.
func TestHeimdalKDCEncKeyPack(t *testing.T) {
	client := testdataCert(t, "heimdal-7.8-client.pem")
	env := readTestdata(t, "heimdal-7.8-kdc-enckeypack.der")
	if !bytes.Contains(env, hx509SKI(client)) {
		t.Fatal("the vector has no constructed [0] subjectKeyIdentifier recipient")
	}
	rep, err := (&PKASRep{EncKeyPack: env}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	key, sc, err := ClientReplyKey(rep, ClientReplyParams{
		EType: 18, KDFInputs: testInputs, Certificate: client, Decrypter: heimdalClientKey(t), Rand: rand.Reader,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key.KeyValue, bytes.Repeat([]byte{0x42}, 32)) || !sc.Signer.Equal(testdataCert(t, "heimdal-7.8-kdc.pem")) {
		t.Errorf("key %x from %v", key.KeyValue, sc.Signer.Subject)
	}
}

// asReqParts splits a DER AS-REQ (RFC 4120 §5.4.1) into its padata and
// its KDC-REQ-BODY as received.
func asReqParts(t *testing.T, der []byte) (map[int64][]byte, []byte) {
	t.Helper()
	in := cryptobyte.String(der)
	var app, req, padataT, padata, bodyT, body cryptobyte.String
	if !in.ReadASN1(&app, cbasn1.Tag(0x6a)) || !in.Empty() || !app.ReadASN1(&req, cbasn1.SEQUENCE) ||
		!req.SkipASN1(tagCtx1Cons) || !req.SkipASN1(cbasn1.Tag(2).ContextSpecific().Constructed()) ||
		!req.ReadASN1(&padataT, cbasn1.Tag(3).ContextSpecific().Constructed()) || !padataT.ReadASN1(&padata, cbasn1.SEQUENCE) ||
		!req.ReadASN1(&bodyT, cbasn1.Tag(4).ContextSpecific().Constructed()) || !bodyT.ReadASN1Element(&body, cbasn1.SEQUENCE) {
		t.Fatal("not an AS-REQ")
	}
	pas := map[int64][]byte{}
	for !padata.Empty() {
		var pa, typT, valT, val cryptobyte.String
		var typ int64
		if !padata.ReadASN1(&pa, cbasn1.SEQUENCE) || !pa.ReadASN1(&typT, tagCtx1Cons) || !typT.ReadASN1Integer(&typ) ||
			!pa.ReadASN1(&valT, cbasn1.Tag(2).ContextSpecific().Constructed()) || !valT.ReadASN1(&val, cbasn1.OCTET_STRING) {
			t.Fatal("bad PA-DATA")
		}
		pas[typ] = val
	}
	return pas, body
}

// TestHeimdalKinitASReq replays the PA-PK-AS-REQ Heimdal's kinit sent
// (recorded by gen-heimdal.sh): its AuthPack signer is a constructed [0]
// subjectKeyIdentifier, and the KDC checks it against the request body.
func TestHeimdalKinitASReq(t *testing.T) {
	client := testdataCert(t, "heimdal-7.8-client.pem")
	kdcKey := testdataCert(t, "heimdal-7.8-kdc.pem").PublicKey
	for _, tc := range []struct {
		file string
		dh   bool
	}{
		{"heimdal-7.8-kinit-as-req-dh.der", true},
		{"heimdal-7.8-kinit-as-req-rsa.der", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			padata, body := asReqParts(t, readTestdata(t, tc.file))
			req, err := ParsePKASReq(padata[int64(PAPKASReq)])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(req.SignedAuthPack, hx509SKI(client)) {
				t.Fatal("the vector has no constructed [0] subjectKeyIdentifier signer")
			}
			ap, sc, err := VerifyAuthPack(req, body, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !sc.Signer.Equal(client) || sc.Hash != crypto.SHA512 {
				t.Errorf("signer %v, hash %v", sc.Signer.Subject, sc.Hash)
			}
			// Heimdal lists sha512WithRSAEncryption first: a KDC answers with SHA-512.
			if len(ap.SupportedCMSTypes) == 0 || !ap.SupportedCMSTypes[0].Algorithm.Equal(oidSHA512WithRSA) || ap.ReplyHash(kdcKey, false) != crypto.SHA512 {
				t.Errorf("supportedCMSTypes %v", ap.SupportedCMSTypes)
			}
			if tc.dh != (ap.ClientPublicValue != nil) {
				t.Fatalf("clientPublicValue %x", ap.ClientPublicValue)
			}
			if tc.dh {
				if pub, err := ParseClientPublicValue(ap.ClientPublicValue, AgreementPolicy{}); err != nil || pub.Group != MODPGroup14 {
					t.Errorf("clientPublicValue: %v %v", pub, err)
				}
			}
		})
	}
}

// TestHeimdalVerifiesOurSignedData: hx509 verifies what SignData makes with
// the signer by issuer and serial number, as kinit and the KDC sign. (hx509
// cannot decode the DER subjectKeyIdentifier form, 80 14 …: its CMS module
// tags [0] EXPLICIT; see SignOptions.SubjectKeyID.)
func TestHeimdalVerifiesOurSignedData(t *testing.T) {
	hxtool := "/usr/local/lib/sclogon/heimdal/usr/bin/hxtool"
	if _, err := os.Stat(hxtool); err != nil {
		harness.Missing(t, "Heimdal's hxtool is not installed (./integration/setup unpacks it)")
	}
	// RSA only: Debian's Heimdal 7.8 is built without ECDSA.
	f := fixtures(t)
	dir, certPath, _ := writePEMs(t, f.client)
	content := []byte("a KDCDHKeyInfo, say")
	sd, err := SignData(content, ContentDHKeyData, f.client.key, f.client.cert, SignOptions{Rand: rand.Reader, Hash: crypto.SHA512})
	if err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "sd.der"), filepath.Join(dir, "out")
	os.WriteFile(in, sd, 0o600)
	cmd := exec.Command(hxtool, "cms-verify-sd", "--missing-revoke", "--content-info", "--anchors=FILE:"+certPath, in, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hxtool: %v\n%s", err, b)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Errorf("hxtool content %q", got)
	}
}
