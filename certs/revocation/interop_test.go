package revocation

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
)

func freePort(t *testing.T) int { return harness.FreePort(t) }

// startOpenSSLResponder runs `openssl ocsp -index` over the CA directory's
// OpenSSL-format index, signing with a delegated responder, and returns its
// URL once it says it is waiting for connections, and a stop function
// (also run at cleanup) that kills and reaps it.
func startOpenSSLResponder(t *testing.T, ca *pki.CA, respCert, respKey string) (string, func()) {
	t.Helper()
	// A free port can be taken between our check and openssl's bind (by
	// another test's connections, whose ephemeral ports share the range):
	// try another.
	for try := 0; ; try++ {
		url, stop, out, ok := tryOpenSSLResponder(t, ca, respCert, respKey)
		if ok {
			return url, stop
		}
		stop()
		if try == 4 || !strings.Contains(out, "Address already in use") {
			t.Fatalf("openssl ocsp did not start:\n%s", out)
		}
	}
}

func tryOpenSSLResponder(t *testing.T, ca *pki.CA, respCert, respKey string) (url string, stop func(), log string, ok bool) {
	t.Helper()
	port := freePort(t)
	var out harness.Buffer
	cmd := exec.Command("/usr/bin/openssl", "ocsp", "-index", filepath.Join(ca.Dir(), "index.txt"),
		"-port", fmt.Sprint(port), "-rsigner", respCert, "-rkey", respKey, "-CA", ca.IssuerPath(),
		"-nmin", "5", "-nrequest", "20")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if strings.Contains(out.String(), "waiting for OCSP client connections") {
			return fmt.Sprintf("http://127.0.0.1:%d/", port), stop, "", true
		}
		if strings.Contains(out.String(), "Address already in use") || time.Now().After(deadline) {
			return "", stop, out.String(), false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgainstOpenSSLResponder: our client, hard-fail, against OpenSSL's
// responder: good, then revoked with the reason after the CA revokes.
func TestAgainstOpenSSLResponder(t *testing.T) {
	ca, err := pki.Init(t.TempDir(), pki.InitOptions{KeyType: pki.P256, Intermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := pki.UserProfile(pki.User{UPN: "alice@example.com"})
	userKey, _ := pki.GenerateKey(pki.P256, rand.Reader)
	user, err := ca.Issue(userKey.Public(), up)
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := ca.Issue(userKey.Public(), up)
	respKey, _ := pki.GenerateKey(pki.P256, rand.Reader)
	resp, err := ca.Issue(respKey.Public(), pki.OCSPResponderProfile("", 24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "resp.pem"), filepath.Join(dir, "resp.key")
	if err := pki.WriteKeyAndCert(keyPath, certPath, respKey, resp); err != nil {
		t.Fatal(err)
	}
	// Bob is revoked before OpenSSL reads the index.
	if _, err := ca.Revoke(bob.SerialNumber, pki.Superseded); err != nil {
		t.Fatal(err)
	}
	url, stop := startOpenSSLResponder(t, ca, certPath, keyPath)

	c := NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: url, Timeout: 10 * time.Second}})
	res, err := c.Check(context.Background(), user, ca.Issuer())
	if err != nil || res.Status != Good || !res.Responder.Equal(resp) {
		t.Fatalf("alice: %+v %v", res, err)
	}
	_, err = c.Check(context.Background(), bob, ca.Issuer())
	var re *RevokedError
	if !errors.Is(err, ErrRevoked) || !errors.As(err, &re) || re.Reason != int(pki.Superseded) {
		t.Fatalf("bob: %v", err)
	}

	// Revoke alice. OpenSSL checks the index for changes only before it
	// waits for the next connection, so start a fresh responder; and a new
	// Checker, so the cached good answer is not reused.
	if _, err := ca.Revoke(user.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	stop()
	url, _ = startOpenSSLResponder(t, ca, certPath, keyPath)
	c = NewChecker(Options{Policy: Policy{HardFail: true, ResponderURL: url, Timeout: 10 * time.Second}})
	_, err = c.Check(context.Background(), user, ca.Issuer())
	if !errors.As(err, &re) || re.Reason != int(pki.KeyCompromise) {
		t.Fatalf("alice after revoke: %v", err)
	}
}
