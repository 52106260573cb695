package pkinit

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// openssl runs the real openssl 3 binary (a test dependency of this package).
func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return out
}

func writePEMs(t *testing.T, id testIdentity) (dir, certPath, keyPath string) {
	dir = t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.cert.Raw}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}

func TestOpenSSLVerifiesOurSignedData(t *testing.T) {
	f := fixtures(t)
	for name, id := range map[string]testIdentity{"rsa": f.client, "p256": f.ecClient} {
		t.Run(name, func(t *testing.T) {
			dir, certPath, _ := writePEMs(t, id)
			content := []byte("authpack bytes \x00\x01\x02")
			sd, err := SignData(content, ContentData, id.key, id.cert, SignOptions{Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			in, out := filepath.Join(dir, "sd.der"), filepath.Join(dir, "out")
			os.WriteFile(in, sd, 0o600)
			openssl(t, "cms", "-verify", "-inform", "DER", "-binary", "-in", in, "-CAfile", certPath, "-purpose", "any", "-out", out)
			got, _ := os.ReadFile(out)
			if !bytes.Equal(got, content) {
				t.Errorf("openssl content %q", got)
			}
			// A PKINIT content type, checked for the signature only.
			sd, _ = SignData(content, ContentAuthData, id.key, id.cert, SignOptions{Rand: rand.Reader, SubjectKeyID: true})
			os.WriteFile(in, sd, 0o600)
			openssl(t, "cms", "-verify", "-inform", "DER", "-binary", "-noverify", "-in", in, "-out", out)
			if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
				t.Errorf("openssl content %q", got)
			}
		})
	}
}

func TestWeVerifyOpenSSLSignedData(t *testing.T) {
	f := fixtures(t)
	for name, id := range map[string]testIdentity{"rsa": f.client, "p256": f.ecClient} {
		t.Run(name, func(t *testing.T) {
			dir, certPath, keyPath := writePEMs(t, id)
			in, out := filepath.Join(dir, "in"), filepath.Join(dir, "sd.der")
			content := []byte("signed by openssl")
			os.WriteFile(in, content, 0o600)
			openssl(t, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", in, "-signer", certPath, "-inkey", keyPath, "-md", "sha256", "-out", out)
			der, _ := os.ReadFile(out)
			sc, err := VerifySignedData(der, VerifyOptions{ContentType: ContentData})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sc.Content, content) || !sc.Signer.Equal(id.cert) {
				t.Errorf("content %q signer %v", sc.Content, sc.Signer.Subject)
			}
		})
	}
}

func TestEnvelopedDataInterop(t *testing.T) {
	f := fixtures(t)
	dir, certPath, keyPath := writePEMs(t, f.client)
	content := []byte("reply key pack, enveloped")
	in, env, out := filepath.Join(dir, "in"), filepath.Join(dir, "env.der"), filepath.Join(dir, "out")
	os.WriteFile(in, content, 0o600)
	for _, cipher := range []string{"-aes256", "-aes128", "-des3"} {
		openssl(t, "cms", "-encrypt", "-binary", "-outform", "DER", "-in", in, cipher, "-out", env, certPath)
		der, _ := os.ReadFile(env)
		_, got, err := OpenEnvelopedData(der, f.client.cert, f.client.key.(*rsa.PrivateKey), rand.Reader)
		if err != nil {
			t.Fatalf("%s: %v", cipher, err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s: %q", cipher, got)
		}
	}
	der, err := EnvelopeData(content, f.client.cert, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(env, der, 0o600)
	openssl(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", env, "-inkey", keyPath, "-recip", certPath, "-out", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Errorf("openssl decrypted %q", got)
	}
	if _, _, err := OpenEnvelopedData(der, f.kdc.cert, f.kdc.key.(*rsa.PrivateKey), rand.Reader); err == nil {
		t.Error("opened with the wrong recipient")
	}
}
