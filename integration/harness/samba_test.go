package harness_test

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

// TestSambaDC provisions a Samba AD DC with PKINIT, checks that its KDC
// answers on the veth address over UDP and TCP and offers PKINIT, has MIT
// kinit get a TGT with alice's certificate (mapped by her UPN), and checks
// that Close leaves no process, namespace or file behind.
func TestSambaDC(t *testing.T) {
	const realm = "SAMBA.EXAMPLE.COM"
	cfg := harness.SambaConfig{Realm: realm, Users: []harness.SambaUser{{Name: "alice"}}}
	ca, err := pki.Init(filepath.Join(t.TempDir(), "ca"), pki.InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kdcKey, kdcCert := issueSigner(t, ca, pki.KDCProfile, pki.KDC{Realm: realm, DNSNames: []string{cfg.FQDN()}})
	kdcKeyPEM, err := pki.MarshalKeyPEM(kdcKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.KDCCertPEM, cfg.KDCKeyPEM, cfg.AnchorsPEM = pki.CertPEM(kdcCert), kdcKeyPEM, pki.CertPEM(ca.Root())
	aliceKey, aliceCert := issueSigner(t, ca, pki.UserProfile, pki.User{UPN: "alice@" + cfg.DNSDomain()})
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := pki.WriteKeyAndCert(keyPath, certPath, aliceKey, aliceCert); err != nil {
		t.Fatal(err)
	}

	dc := harness.StartSambaDC(t, cfg)
	t.Logf("provisioned in %v; KDC at %s in namespace %s", dc.Provisioned, dc.Addr, dc.Namespace)
	if !strings.HasPrefix(dc.IP, "10.231.") {
		t.Errorf("DC address %s, want one in 10.231.0.0/16", dc.IP)
	}
	if out := dc.Search(t, "CN=Configuration,"+dc.BaseDN, "(cn=NTAuthCertificates)", "cACertificate"); !strings.Contains(out, "cACertificate::") {
		t.Errorf("NTAuth holds no CA certificate:\n%s", out)
	}

	t.Run("offers PKINIT", func(t *testing.T) {
		conf := config.New()
		conf.LibDefaults.DefaultTktEnctypeIDs = []int32{18, 17}
		req, err := messages.NewASReqForTGT(realm, conf, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, network := range []string{"udp", "tcp"} {
			var krbErr messages.KRBError
			if err := krbErr.Unmarshal(exchange(t, network, dc.Addr, msg)); err != nil {
				t.Fatalf("%s: reply is not a KRB-ERROR: %v", network, err)
			}
			const preauthRequired = 25 // KDC_ERR_PREAUTH_REQUIRED, RFC 4120 §7.5.9
			if krbErr.ErrorCode != preauthRequired {
				t.Fatalf("%s: error code %d, want KDC_ERR_PREAUTH_REQUIRED (25)", network, krbErr.ErrorCode)
			}
			var methods types.PADataSequence
			if err := methods.Unmarshal(krbErr.EData); err != nil {
				t.Fatalf("%s: e-data is not METHOD-DATA: %v", network, err)
			}
			var offered []int32
			for _, pa := range methods {
				offered = append(offered, pa.PADataType)
			}
			const paPKASReq = 16 // PA_PK_AS_REQ, RFC 4556 §3.2.1
			if !contains(offered, paPKASReq) {
				t.Fatalf("%s: METHOD-DATA offers %v, want PA-PK-AS-REQ (16) among them", network, offered)
			}
		}
	})

	t.Run("MIT kinit", func(t *testing.T) {
		mit := dc.Client(t, harness.MITClientConfig{AnchorsPEM: cfg.AnchorsPEM})
		// Samba 4.17 drops the leading zero byte of the DH shared secret
		// (RFC 4556 §3.2.3.1 pads it), so about 1 logon in 256 fails for
		// every client: a failure is retried, up to 3 tries.
		var out string
		for try := 1; try <= 3; try++ {
			out, err = harness.RunErr(mit.Command(t, "kinit", "-X", "X509_user_identity=FILE:"+certPath+","+keyPath, "alice@"+realm))
			if err == nil {
				break
			}
			t.Logf("kinit try %d: %v\n%s", try, err, out)
		}
		if err != nil {
			t.Fatalf("MIT kinit with alice's certificate: %v\n%s", err, out)
		}
		out = harness.Run(t, mit.Command(t, "klist"))
		if !strings.Contains(out, "alice@"+realm) || !strings.Contains(out, "krbtgt/"+realm+"@"+realm) {
			t.Fatalf("klist:\n%s", out)
		}
	})

	pid := dc.Process().PID()
	dc.Close()
	if harness.Alive(pid) {
		t.Errorf("samba (pid %d) still running after Close", pid)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", dc.Namespace)); !os.IsNotExist(err) {
		t.Errorf("namespace %s still there after Close (%v)", dc.Namespace, err)
	}
	if _, err := os.Stat(dc.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Close (%v)", dc.Dir, err)
	}
	if out, err := exec.Command("ip", "-o", "addr", "show", "to", dc.IP+"/30").CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("the DC's /30 is still on a host interface after Close (%v):\n%s", err, out)
	}
}

// issueSigner makes an RSA-2048 key and has ca certify it under profile.
func issueSigner[T any](t *testing.T, ca *pki.CA, profile func(T) (pki.Profile, error), v T) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profile(v)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(key.Public(), prof)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
