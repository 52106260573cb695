package conform

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
)

const testRealm = "CONFORM.TEST"

// fixture is a conformance KDC serving on loopback, with its krb5.conf.
type fixture struct {
	pki  *PKI
	kdc  *KDC
	addr string
	conf string
	// log is the conformance KDC's and its server's log: why a request
	// was refused, shown when a control fails.
	log *harness.Buffer
}

func newFixture(t *testing.T, libdefaults ...string) *fixture {
	t.Helper()
	p, err := NewPKI(t.TempDir(), testRealm, PKIOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	log := &harness.Buffer{}
	k, err := New(Config{PKI: p, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := kdc.Listen([]string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &kdc.Server{Handler: k, Realm: testRealm, Log: slog.New(slog.NewTextHandler(log, nil))}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ls, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	addr := ls[0].TCP.Addr().String()
	conf, err := WriteKrb5Conf(p, addr, libdefaults)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pki: p, kdc: k, addr: addr, conf: conf, log: log}
}

func (f *fixture) driver(clients ...string) *Driver {
	return &Driver{KDC: f.kdc, Clients: clients, Dir: f.pki.Dir, Timeout: 2 * time.Minute}
}

var (
	buildOnce sync.Once
	buildDir  string
	sclogon   string
	buildErr  error
	buildOut  []byte
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// sclogonBinary builds cmd/sclogon once for the package's tests.
func sclogonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "conform-sclogon-")
		if buildErr != nil {
			return
		}
		sclogon = filepath.Join(buildDir, "sclogon")
		cmd := exec.Command("go", "build", "-o", sclogon, "github.com/sclogon/sclogon/cmd/sclogon")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build cmd/sclogon: %v\n%s", buildErr, buildOut)
	}
	return sclogon
}

// ownClients are sclogon kinit with each key exchange.
func ownClients(bin string) []string {
	base := bin + " kinit --identity FILE:$CONFORM_DIR/client.pem,$CONFORM_DIR/client-key.pem"
	return []string{
		base + " alice@" + testRealm,
		base + " --ecdh P-256 alice@" + testRealm,
		base + " --rsa-key-transport alice@" + testRealm,
	}
}

// ownFindings are faults sclogon kinit is known to accept, each with where
// the missing check belongs; the test fails once one is refused, so the
// entry goes when the check comes.
var ownFindings = map[string]string{}

// TestConformOwnKinit: sclogon kinit logs on in the control with DH, ECDH
// and RSA key transport, and refuses every fault, saying why.
func TestConformOwnKinit(t *testing.T) {
	f := newFixture(t)
	rep, err := f.driver(ownClients(sclogonBinary(t))...).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("sclogon kinit:\n%s", text.String())
	if got, want := len(rep.Results), len(Faults())+2; got != want {
		t.Fatalf("%d rows, want %d (a control per client and every fault)", got, want)
	}
	for _, res := range rep.Results {
		switch {
		case res.Expected == Accepted && res.Observed != Accepted:
			t.Errorf("control with %q did not log on: %s", res.Client, res.ClientError)
		case ownFindings[res.Fault] != "":
			if res.Observed != Accepted {
				t.Errorf("%s: now %s; the finding is mended, take it out of ownFindings", res.Fault, res.Observed)
			}
		case res.Expected == Refused && res.Observed != Refused:
			t.Errorf("%s: observed %s, want refused (%s)", res.Fault, res.Observed, res.Note)
		case res.Expected == Refused && res.ClientError == "":
			t.Errorf("%s: refused without a reason", res.Fault)
		}
	}
	if s := rep.Summary(); !s.ControlOK || s.Accepted != len(ownFindings) {
		t.Errorf("summary: %s", s)
	}
}
