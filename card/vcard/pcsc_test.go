//go:build cgo

package vcard

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/integration/harness"
)

const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// serveCard plugs card into the vpcd reader at addr until the test ends.
func serveCard(t *testing.T, card *Card, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = card.ServeVPCD(ctx, addr, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// runCardProcess runs `sclogon vcard` (Main) as the card's process; the
// returned function stops it and waits for it to exit.
func runCardProcess(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr harness.Buffer
	go func() { done <- Main(ctx, args, strings.NewReader(""), io.Discard, &stderr) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("sclogon vcard exited %d:\n%s", code, stderr.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("sclogon vcard %s:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
	return stop
}

// openCard waits until pcscd has noticed the card in reader and piv-go
// opens it.
func openCard(t *testing.T, reader string) *piv.YubiKey {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		yk, err := piv.Open(reader)
		if err == nil {
			return yk
		}
		if time.Now().After(deadline) {
			t.Fatalf("piv-go cannot open %q: %v", reader, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newCardState(t *testing.T, ca *testCA, slots map[byte]string, san certs.SAN, ekus ...[]int) *State {
	t.Helper()
	st, err := NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for slot, kind := range slots {
		k := testKey(t, kind)
		if err := st.SetKey(slot, k, PINPolicyDefault); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCertificate(slot, ca.issue(t, fmt.Sprintf("slot %02x", slot), k.Public(), san, certs.OIDExtKeyUsagePKINITClientAuth, certs.OIDExtKeyUsageSmartCardLogon)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestPIVGoUnderPCSCD is the piv-go acceptance: the card, run as `sclogon
// vcard --state FILE`, is listed, opened, read; the PIN is verified; it
// signs (RSA, ECDSA) and decrypts (RSA); a wrong PIN costs exactly one try,
// three block it, the PUK unblocks it; and the counter survives a restart
// of the card process.
func TestPIVGoUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	ca := newTestCA(t)
	st := newCardState(t, ca, map[byte]string{SlotAuthentication: "rsa2048", SlotSignature: "p256"}, certs.SAN{UPNs: []string{"alice@example.com"}})
	path := filepath.Join(t.TempDir(), "card.json")
	if err := st.Create(path); err != nil {
		t.Fatal(err)
	}
	stop := runCardProcess(t, "--state", path, "--connect", p.CardAddrs[0])

	cards, err := piv.Cards()
	if err != nil || !slices.Contains(cards, p.Readers[0]) {
		t.Fatalf("piv.Cards() = %q, %v; want %q among them", cards, err, p.Readers[0])
	}
	yk := openCard(t, p.Readers[0])
	if serial, err := yk.Serial(); err != nil || serial != st.Serial() {
		t.Errorf("serial %d, %v; want %d", serial, err, st.Serial())
	}
	rsaCert, err := yk.Certificate(piv.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	ecCert, err := yk.Certificate(piv.SlotSignature)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := yk.Certificate(piv.SlotKeyManagement); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("empty slot 9D: %v, want ErrNotFound", err)
	}
	if n, err := yk.Retries(); err != nil || n != 3 {
		t.Fatalf("retries %d, %v; want 3", n, err)
	}
	if err := yk.VerifyPIN(DefaultPIN); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("PKINIT AuthPack"))
	auth := piv.KeyAuth{PIN: DefaultPIN} // PIN policy read with METADATA
	rsaKey, err := yk.PrivateKey(piv.SlotAuthentication, rsaCert.PublicKey, auth)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := rsaKey.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(rsaCert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("RSA signature: %v", err)
	}
	secret := []byte("32-byte AES key for the reply..")
	//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5 (rsaEncryption): the card decrypts what a KDC sends
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, rsaCert.PublicKey.(*rsa.PublicKey), secret)
	pt, err := rsaKey.(crypto.Decrypter).Decrypt(rand.Reader, ct, nil)
	if err != nil || !bytes.Equal(pt, secret) {
		t.Fatalf("RSA decrypt: %X, %v", pt, err)
	}
	ecKey, err := yk.PrivateKey(piv.SlotSignature, ecCert.PublicKey, piv.KeyAuth{PIN: DefaultPIN, PINPolicy: piv.PINPolicyAlways})
	if err != nil {
		t.Fatal(err)
	}
	sig, err = ecKey.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(ecCert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("ECDSA signature does not verify (%v)", err)
	}

	// A wrong PIN costs exactly one try (and ends the verified session,
	// so that Retries can ask again).
	var ae piv.AuthErr
	if err := yk.VerifyPIN("999999"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong PIN: %v, want 2 retries left", err)
	}
	if n, _ := yk.Retries(); n != 2 {
		t.Fatalf("retries %d after one wrong PIN, want 2", n)
	}
	yk.Close()
	// The counter survives a restart of the card process.
	stop()
	// Open no handle before pcscd has seen the card go: piv.Open leaks its
	// exclusive handle when SELECT fails on a vanished card, and the reader
	// then stays locked for this whole test binary.
	waitForLog(t, p.Process(), "Card Removed", 10*time.Second)
	runCardProcess(t, "--state", path, "--connect", p.CardAddrs[0]) // stopped at cleanup
	yk = openCard(t, p.Readers[0])
	defer yk.Close()
	if n, err := yk.Retries(); err != nil || n != 2 {
		t.Fatalf("retries %d, %v after restarting the card; want 2", n, err)
	}
	// Three wrong tries block it; the PUK unblocks it.
	for _, want := range []int{1, 0} {
		if err := yk.VerifyPIN("999999"); !errors.As(err, &ae) || ae.Retries != want {
			t.Fatalf("wrong PIN: %v, want %d retries left", err, want)
		}
	}
	if err := yk.VerifyPIN(DefaultPIN); err == nil || !strings.Contains(err.Error(), "6983") {
		t.Fatalf("right PIN on a blocked card: %v, want 6983", err)
	}
	if err := yk.Unblock("00000000", "654321"); !errors.As(err, &ae) || ae.Retries != 2 {
		t.Fatalf("wrong PUK: %v, want 2 retries left", err)
	}
	if err := yk.Unblock(DefaultPUK, "654321"); err != nil {
		t.Fatal(err)
	}
	if err := yk.VerifyPIN("654321"); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || !got.matchPIN(padSlice("654321")) || got.PINTriesLeft() != 3 || got.PUKTriesLeft() != 3 {
		t.Fatalf("state file after unblocking: %v", err)
	}
}

// waitForLog waits until a component has logged what.
func waitForLog(t *testing.T, proc *harness.Process, what string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(proc.Log(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("%s has not logged %q after %v", proc.Name, what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWarmOpenReadSign measures what a logon costs on the card under pcscd:
// piv.Open, reading the 9A certificate, and an RSA-2048 signature with the
// PIN already verified in the session. Run it with -v to see the figures.
func TestWarmOpenReadSign(t *testing.T) {
	p := harness.StartPCSCD(t)
	ca := newTestCA(t)
	st := newCardState(t, ca, map[byte]string{SlotAuthentication: "rsa2048"}, certs.SAN{UPNs: []string{"alice@example.com"}})
	var insMu sync.Mutex
	var ins []byte
	var pinSent bool
	card := New(st, Options{Observe: func(e Exchange) {
		insMu.Lock()
		ins = append(ins, e.INS)
		pinSent = pinSent || e.INS == 0x20 && e.Nc > 0
		insMu.Unlock()
	}})
	serveCard(t, card, p.CardAddrs[0])
	yk := openCard(t, p.Readers[0])
	if err := yk.VerifyPIN(DefaultPIN); err != nil {
		t.Fatal(err)
	}
	yk.Close()
	insMu.Lock()
	pinSent = false
	insMu.Unlock()
	digest := sha256.Sum256([]byte("AuthPack"))
	const rounds = 30
	var times []time.Duration
	var apdus []uint64
	for i := 0; i < rounds; i++ {
		insMu.Lock()
		ins = ins[:0]
		insMu.Unlock()
		before := card.APDUs()
		start := time.Now()
		yk, err := piv.Open(p.Readers[0])
		if err != nil {
			t.Fatal(err)
		}
		cert, err := yk.Certificate(piv.SlotAuthentication)
		if err != nil {
			t.Fatal(err)
		}
		key, err := yk.PrivateKey(piv.SlotAuthentication, cert.PublicKey, piv.KeyAuth{PIN: DefaultPIN, PINPolicy: piv.PINPolicyOnce})
		if err != nil {
			t.Fatal(err)
		}
		sig, err := key.(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		yk.Close()
		times = append(times, time.Since(start))
		apdus = append(apdus, card.APDUs()-before)
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
			t.Fatal(err)
		}
	}
	insMu.Lock()
	last := fmt.Sprintf("% X", ins)
	sentPIN := pinSent
	insMu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("warm piv.Open + Certificate(9A) + RSA-2048 Sign under pcscd: median %v, min %v, max %v over %d rounds; %d APDUs per round (INS %s)",
		times[rounds/2], times[0], times[rounds-1], rounds, apdus[rounds-1], last)
	if times[rounds/2] > 100*time.Millisecond {
		t.Errorf("median %v: the card is slow (TCP_QUICKACK lost?)", times[rounds/2])
	}
	if sentPIN {
		t.Error("piv-go sent the PIN again although the session had it verified")
	}
}

// opensc runs pkcs11-tool against OpenSC's PKCS#11 module with a private,
// default configuration.
func opensc(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	tool := harness.Require(t, "pkcs11-tool", "opensc")
	if _, err := os.Stat(openscModule); err != nil {
		harness.Missing(t, "vcard: "+openscModule+" is missing: install the Debian package opensc-pkcs11")
	}
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, append([]string{"--module", openscModule}, args...)...)
	cmd.Env = append(os.Environ(), "OPENSC_CONF="+conf)
	return cmd
}

// TestOpenSCUnderPCSCD: OpenSC, an independent PIV client, finds the token
// and its certificates on the generic card and signs with the PIN.
func TestOpenSCUnderPCSCD(t *testing.T) {
	p := harness.StartPCSCD(t)
	ca := newTestCA(t)
	st := newCardState(t, ca, map[byte]string{SlotAuthentication: "rsa2048", SlotKeyManagement: "p256"}, certs.SAN{UPNs: []string{"alice@example.com"}})
	var trace harness.Buffer
	card := New(st, Options{Generic: true, Trace: &trace})
	serveCard(t, card, p.CardAddrs[0])
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("card trace:\n%s", trace.String())
		}
	})
	p.WaitForCard(t, 0, 10*time.Second) // the first card this pcscd sees

	out := harness.Run(t, opensc(t, "-L"))
	if !strings.Contains(out, p.Readers[0]) || !strings.Contains(out, "token label") {
		t.Fatalf("pkcs11-tool -L lists no token in %q:\n%s", p.Readers[0], out)
	}
	out = harness.Run(t, opensc(t, "-O"))
	for _, want := range []string{"Certificate for PIV Authentication", "Certificate for Key Management", "Public Key Object; RSA 2048", "Public Key Object; EC"} {
		if !strings.Contains(out, want) {
			t.Errorf("pkcs11-tool -O lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	in, sigPath := filepath.Join(dir, "data"), filepath.Join(dir, "sig")
	msg := []byte("signed through OpenSC")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	harness.Run(t, opensc(t, "--sign", "--login", "--pin", DefaultPIN, "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", in, "-o", sigPath))
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := st.PublicKey(SlotAuthentication)
	digest := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("OpenSC's signature does not verify: %v", err)
	}
	if strings.Contains(trace.String(), "313233343536") {
		t.Error("the trace shows the PIN")
	}
}

// TestMITKinitThroughOpenSC: MIT kinit gets a TGT from MIT krb5kdc with
// alice's key held on the card, reached through OpenSC's PKCS#11 module.
func TestMITKinitThroughOpenSC(t *testing.T) {
	harness.Require(t, "kinit", "krb5-user")
	if _, err := os.Stat(openscModule); err != nil {
		harness.Missing(t, "vcard: "+openscModule+" is missing: install the Debian package opensc-pkcs11")
	}
	const realm = "EXAMPLE.COM"
	ca := newTestCA(t)
	kdcKey := testKey(t, "p256")
	kdcCert := ca.issue(t, "kdc", kdcKey.Public(),
		certs.SAN{Principals: []certs.PrincipalName{{NameType: 2, Name: []string{"krbtgt", realm}, Realm: realm}}},
		certs.OIDExtKeyUsagePKINITKDC)
	st := newCardState(t, ca, map[byte]string{SlotAuthentication: "rsa2048"},
		certs.SAN{Principals: []certs.PrincipalName{{NameType: 1, Name: []string{"alice"}, Realm: realm}}})

	p := harness.StartPCSCD(t)
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm: realm, KDCCertPEM: certPEM(kdcCert), KDCKeyPEM: keyPEM(t, kdcKey), AnchorsPEM: ca.pem(),
		Principals: []string{"+requires_preauth -nokey alice"},
	})
	client := kdc.Client(t, harness.MITClientConfig{AnchorsPEM: ca.pem()})
	card := New(st, Options{})
	serveCard(t, card, p.CardAddrs[0])
	p.WaitForCard(t, 0, 10*time.Second) // the first card this pcscd sees

	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte("app default {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kinit := client.Command(t, "kinit", "-X", "X509_user_identity=PKCS11:module_name="+openscModule, "alice@"+realm)
	kinit.Env = append(kinit.Env, "OPENSC_CONF="+conf)
	kinit.Stdin = strings.NewReader(DefaultPIN + "\n")
	out := harness.Run(t, kinit)
	klist := harness.Run(t, client.Command(t, "klist"))
	if !strings.Contains(klist, "krbtgt/"+realm+"@"+realm) || !strings.Contains(klist, "alice@"+realm) {
		t.Fatalf("no TGT for alice after kinit (%s):\n%s", out, klist)
	}
	if card.APDUs() == 0 || card.State().PINTriesLeft() != 3 {
		t.Errorf("card saw %d APDUs, PIN tries %d: the logon did not use it", card.APDUs(), card.State().PINTriesLeft())
	}
}
