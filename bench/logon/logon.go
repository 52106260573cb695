// Package logon measures one smart-card logon from the client's side: the
// APDUs the card sees and the wall time, with a software PIV card
// (card/vcard) in pcscd's vpcd reader, against a KDC from package kdcload.
//
// Call [Start] for the [Bench] (pcscd, the card holding a realm user's key
// and certificate), then [Bench.MITKinitOpenSC] for MIT kinit through
// OpenSC's PKCS #11 module, [Bench.SclogonKinit] for `sclogon kinit` with
// the card and [Bench.SclogonKinitOpenSC] for `sclogon kinit` through
// OpenSC's module, each cold (OpenSC's file cache empty) or warm (filled by
// the logon before).
package logon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/bench/kdcload"
	"github.com/sclogon/sclogon/card/vcard"
)

// OpenSCModule is OpenSC's PKCS #11 module on Debian (amd64).
const OpenSCModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

const (
	pcscdSocket  = "/run/pcscd/pcscd.comm"
	pcscdPIDFile = "/run/pcscd/pcscd.pid"
	// pcscdLock is the lock integration/harness takes: one pcscd per
	// machine, so benchmarks and tests take turns.
	pcscdLock  = "sclogon-pcscd.lock"
	vpcdDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
)

// Measurement is one logon.
type Measurement struct {
	APDUs uint64        // command APDUs the card answered
	Wall  time.Duration // from starting the client to its exit
}

// Bench is pcscd with the software card in its first reader, a KDC, and the
// realm user whose key the card holds.
type Bench struct {
	Dir    string
	Realm  *kdcload.Realm
	KDC    *kdcload.Process
	User   kdcload.User
	Reader string
	Card   *vcard.Card

	cleanups []func() // run last first by Stop
}

// Available reports whether pcscd, vpcd, MIT kinit and OpenSC are installed.
func Available() error {
	for _, f := range []string{vpcdDriver, OpenSCModule} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("logon: %s is missing: install the Debian packages pcscd vsmartcard-vpcd opensc-pkcs11", f)
		}
	}
	for _, p := range []string{"pcscd", "kinit"} {
		if _, err := lookPath(p); err != nil {
			return fmt.Errorf("logon: %s not found: install the Debian packages pcscd krb5-user", p)
		}
	}
	return nil
}

// Start takes the machine's pcscd lock (waiting for tests that hold it),
// starts pcscd with the vpcd readers, and inserts a card that holds user's
// key and certificate in the PIV Authentication slot (9A).
func Start(ctx context.Context, dir string, r *kdcload.Realm, kdc *kdcload.Process, user kdcload.User) (_ *Bench, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	b := &Bench{Dir: dir, Realm: r, KDC: kdc, User: user, Reader: "Virtual PCD 00 00"}
	defer func() {
		if err != nil {
			b.Stop()
		}
	}()
	if err := b.lockPCSCD(); err != nil {
		return nil, err
	}
	cardAddr, err := b.startPCSCD()
	if err != nil {
		return nil, err
	}
	if err := b.insertCard(ctx, cardAddr); err != nil {
		return nil, err
	}
	return b, nil
}

// lockPCSCD takes the machine's pcscd lock and clears what a pcscd that
// died left behind; another pcscd still running is an error.
func (b *Bench) lockPCSCD() error {
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), pcscdLock), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("logon: pcscd lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return fmt.Errorf("logon: pcscd lock: %w", err)
	}
	b.cleanups = append(b.cleanups, func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN); lock.Close() })
	if _, err := os.Stat(pcscdSocket); err == nil {
		if c, err := net.Dial("unix", pcscdSocket); err == nil {
			c.Close()
			return fmt.Errorf("logon: another pcscd owns %s; stop it to run the client benchmark", pcscdSocket)
		}
	}
	for _, f := range []string{pcscdPIDFile, pcscdSocket} {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("logon: remove stale %s: %w", f, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(pcscdSocket), 0o755); err != nil {
		return fmt.Errorf("logon: %w", err)
	}
	return nil
}

// startPCSCD starts pcscd with a vpcd reader and returns the address the
// card connects to, once pcscd answers and the reader listens.
func (b *Bench) startPCSCD() (cardAddr string, err error) {
	port, err := freePortPair()
	if err != nil {
		return "", err
	}
	confDir := filepath.Join(b.Dir, "reader.conf.d")
	if err := os.MkdirAll(confDir, 0o700); err != nil {
		return "", fmt.Errorf("logon: %w", err)
	}
	conf := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x%04X\nLIBPATH      %s\nCHANNELID    0x%04X\n", port, vpcdDriver, port)
	if err := os.WriteFile(filepath.Join(confDir, "vpcd"), []byte(conf), 0o600); err != nil {
		return "", fmt.Errorf("logon: %w", err)
	}
	pcscd, _ := lookPath("pcscd")
	cmd := exec.Command(pcscd, "--foreground", "--config", confDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("logon: start pcscd: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.cleanups = append(b.cleanups, func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	cardAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitFor(10*time.Second, exited, func() bool {
		for _, a := range [][2]string{{"unix", pcscdSocket}, {"tcp", cardAddr}} {
			c, err := net.Dial(a[0], a[1])
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	}); err != nil {
		return "", fmt.Errorf("logon: pcscd: %w", err)
	}
	return cardAddr, nil
}

// insertCard serves a software card with the user's key and certificate in
// slot 9A at cardAddr, and waits until pcscd has seen it.
func (b *Bench) insertCard(ctx context.Context, cardAddr string) error {
	st, err := vcard.NewState(rand.Reader)
	if err != nil {
		return err
	}
	if err := st.SetKey(vcard.SlotAuthentication, b.User.Identity.Signer(), vcard.PINPolicyDefault); err != nil {
		return err
	}
	if err := st.SetCertificate(vcard.SlotAuthentication, b.User.Identity.Certificate().Raw); err != nil {
		return err
	}
	b.Card = vcard.New(st, vcard.Options{})
	inserted := make(chan struct{})
	cardCtx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = b.Card.ServeVPCD(cardCtx, cardAddr, func() { close(inserted) })
	}()
	b.cleanups = append(b.cleanups, func() { cancel(); <-served })
	select {
	case <-inserted:
	case <-time.After(10 * time.Second):
		return errors.New("logon: the software card did not connect to pcscd's reader in 10s")
	}
	// pcscd sees a card at its next presence poll (~0.4 s).
	time.Sleep(1500 * time.Millisecond)
	return nil
}

// Stop removes the card, stops pcscd and releases the lock.
func (b *Bench) Stop() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
	b.cleanups = nil
}

// MITKinitOpenSC runs MIT kinit with X509_user_identity=PKCS11: through
// OpenSC on the card, the PIN on its standard input, and measures it.
// OpenSC caches the card's public files in cacheDir (use_file_caching):
// an empty cacheDir is a cold logon, a cacheDir a logon before filled is a
// warm one.
func (b *Bench) MITKinitOpenSC(ctx context.Context, cacheDir string) (Measurement, error) {
	dir, err := os.MkdirTemp(b.Dir, "mit-kinit-")
	if err != nil {
		return Measurement{}, fmt.Errorf("logon: %w", err)
	}
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
  udp_preference_limit = 1

[realms]
  %[1]s = {
    kdc = %[2]s
    pkinit_anchors = FILE:%[3]s
  }
`, kdcload.RealmName, b.KDC.Addr, b.Realm.CA.RootPath())
	opensc := fmt.Sprintf("app default {\n  file_cache_dir = %s;\n  framework pkcs15 {\n    use_file_caching = public;\n  }\n}\n", cacheDir)
	for name, data := range map[string]string{"krb5.conf": krb5, "opensc.conf": opensc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			return Measurement{}, fmt.Errorf("logon: %w", err)
		}
	}
	kinit, err := lookPath("kinit")
	if err != nil {
		return Measurement{}, err
	}
	cmd := exec.CommandContext(ctx, kinit, "-X", "X509_user_identity=PKCS11:module_name="+OpenSCModule, b.User.Name+"@"+kdcload.RealmName)
	cmd.Env = append(os.Environ(),
		"KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"),
		"KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"),
		"OPENSC_CONF="+filepath.Join(dir, "opensc.conf"),
	)
	cmd.Stdin = strings.NewReader(vcard.DefaultPIN + "\n")
	before := b.Card.APDUs()
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	m := Measurement{APDUs: b.Card.APDUs() - before, Wall: wall}
	if err != nil {
		return m, fmt.Errorf("logon: MIT kinit through OpenSC: %w\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ccache")); err != nil {
		return m, fmt.Errorf("logon: MIT kinit wrote no ccache:\n%s", out)
	}
	return m, nil
}

// SclogonKinit runs `sclogon kinit --pin-stdin` with the card and measures
// it the way MITKinitOpenSC measures MIT kinit. Cold starts with an empty
// certificate cache; warm first fills the cache with a logon it does not
// count, as a person's second logon of the day finds it.
func (b *Bench) SclogonKinit(ctx context.Context, sclogon string, warm bool) (Measurement, error) {
	dir, err := os.MkdirTemp(b.Dir, "sclogon-kinit-")
	if err != nil {
		return Measurement{}, fmt.Errorf("logon: %w", err)
	}
	krb5 := fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false

[realms]
  %[1]s = {
    kdc = %[2]s
    pkinit_anchors = FILE:%[3]s
  }
`, kdcload.RealmName, b.KDC.Addr, b.Realm.CA.RootPath())
	if err := os.WriteFile(filepath.Join(dir, "krb5.conf"), []byte(krb5), 0o600); err != nil {
		return Measurement{}, fmt.Errorf("logon: %w", err)
	}
	cacheHome := filepath.Join(dir, "cache") // the certificate cache lives under XDG_CACHE_HOME
	run := func() (Measurement, error) {
		cmd := exec.CommandContext(ctx, sclogon, "kinit", "--pin-stdin", "--reader", b.Reader, b.User.Name+"@"+kdcload.RealmName)
		cmd.Env = append(os.Environ(),
			"KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"),
			"KRB5CCNAME=FILE:"+filepath.Join(dir, "ccache"),
			"XDG_CACHE_HOME="+cacheHome,
		)
		cmd.Stdin = strings.NewReader(vcard.DefaultPIN + "\n")
		before := b.Card.APDUs()
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		m := Measurement{APDUs: b.Card.APDUs() - before, Wall: time.Since(t0)}
		if err != nil {
			return m, fmt.Errorf("logon: sclogon kinit with the card: %w\n%s", err, out)
		}
		return m, nil
	}
	if warm {
		if _, err := run(); err != nil {
			return Measurement{}, err
		}
	}
	return run()
}

func waitFor(limit time.Duration, exited <-chan struct{}, ready func() bool) error {
	deadline := time.Now().Add(limit)
	for !ready() {
		select {
		case <-exited:
			return errors.New("exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// freePortPair finds a port p with p and p+1 free on loopback (vpcd's two
// readers).
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("logon: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p >= 65535 {
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err != nil {
			continue
		}
		l2.Close()
		return p, nil
	}
	return 0, errors.New("logon: no free pair of loopback ports")
}

func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("logon: %s not found", program)
}
