package harness_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/integration/harness"
)

const aliceLDIF = `dn: cn=alice,dc=example,dc=com
objectClass: user
cn: alice
sn: Liddell
sAMAccountName: alice
userPrincipalName: alice@example.com
altSecurityIdentities: X509:<I>DC=com,DC=example,CN=Test CA<SR>0a1b2c
`

func TestSlapdBindAndSearch(t *testing.T) {
	l := harness.StartSlapd(t, harness.SlapdConfig{LDIF: aliceLDIF})
	conn, err := ldap.DialURL(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(l.BindDN, l.Password); err != nil {
		t.Fatalf("bind as %s: %v", l.BindDN, err)
	}
	if err := conn.Bind(l.BindDN, "wrong"); err == nil {
		t.Fatal("bind with a wrong password succeeded")
	}
	res, err := conn.Search(ldap.NewSearchRequest(l.Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
		"(&(objectClass=user)(userPrincipalName="+ldap.EscapeFilter("ALICE@example.com")+"))",
		[]string{"sAMAccountName", "altSecurityIdentities"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("search found %d entries, want 1", len(res.Entries))
	}
	if got := res.Entries[0].GetAttributeValue("sAMAccountName"); got != "alice" {
		t.Errorf("sAMAccountName = %q, want alice", got)
	}
	if got := res.Entries[0].GetAttributeValue("altSecurityIdentities"); !strings.HasPrefix(got, "X509:<I>") {
		t.Errorf("altSecurityIdentities = %q", got)
	}
}

func TestSlapdRestartAfterKill(t *testing.T) {
	l := harness.StartSlapd(t, harness.SlapdConfig{LDIF: aliceLDIF})
	l.Kill()
	if _, err := ldap.DialURL(l.URL); err == nil {
		t.Fatal("dial succeeded after slapd was killed")
	}
	l.Restart()
	conn, err := ldap.DialURL(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(l.BindDN, l.Password); err != nil {
		t.Fatal(err)
	}
}

func TestMITKDCAdvertisesPKINIT(t *testing.T) {
	const realm = "EXAMPLE.COM"
	r := newTestRealm(t, realm)
	kdc := harness.StartMITKDC(t, harness.MITKDCConfig{
		Realm:      realm,
		KDCCertPEM: r.kdcCertPEM, KDCKeyPEM: r.kdcKeyPEM, AnchorsPEM: r.caPEM,
		Principals: []string{"+requires_preauth -nokey alice"},
	})

	cfg := config.New()
	cfg.LibDefaults.DefaultTktEnctypeIDs = []int32{18, 17}
	req, err := messages.NewASReqForTGT(realm, cfg, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			reply := exchange(t, network, kdc.Addr, msg)
			var krbErr messages.KRBError
			if err := krbErr.Unmarshal(reply); err != nil {
				t.Fatalf("reply is not a KRB-ERROR: %v", err)
			}
			const preauthRequired = 25 // KDC_ERR_PREAUTH_REQUIRED, RFC 4120 §7.5.9
			if krbErr.ErrorCode != preauthRequired {
				t.Fatalf("error code %d, want KDC_ERR_PREAUTH_REQUIRED (25)", krbErr.ErrorCode)
			}
			var methods types.PADataSequence
			if err := methods.Unmarshal(krbErr.EData); err != nil {
				t.Fatalf("e-data is not METHOD-DATA: %v", err)
			}
			var types []int32
			for _, pa := range methods {
				types = append(types, pa.PADataType)
			}
			const paPKASReq = 16 // PA_PK_AS_REQ, RFC 4556 §3.2.1
			if !contains(types, paPKASReq) {
				t.Fatalf("METHOD-DATA offers %v, want PA-PK-AS-REQ (16) among them", types)
			}
		})
	}

	// The client side of the harness talks to the same KDC.
	c := kdc.Client(t, harness.MITClientConfig{AnchorsPEM: r.caPEM})
	out, err := harness.RunErr(c.Command(t, "kinit", "-X", "X509_user_identity=FILE:/nonexistent.pem,/nonexistent.key", "alice"))
	if err == nil {
		t.Fatalf("kinit with a missing identity succeeded:\n%s", out)
	}
}

func contains(xs []int32, x int32) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// exchange sends one Kerberos message: over TCP with the 4-byte length prefix
// of RFC 4120 §7.2.2, over UDP as one datagram.
func exchange(t *testing.T, network, addr string, msg []byte) []byte {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if network == "udp" {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	if _, err := conn.Write(append(hdr[:], msg...)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		t.Fatal(err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		t.Fatalf("reply length %d", n)
	}
	reply := make([]byte, n)
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatal(err)
	}
	return reply
}

// childMode is set when this test binary runs as the subprocess of
// TestNoProcessOutlivesTest.
const childMode = "SCLOGON_HARNESS_CHILD"

// TestHarnessChild is the subprocess's body: it starts every component, prints
// their PIDs, then fails on purpose or waits to be killed. Run normally it only
// checks that it was not asked to do anything.
func TestHarnessChild(t *testing.T) {
	mode := os.Getenv(childMode)
	if mode == "" {
		return
	}
	r := newTestRealm(t, "EXAMPLE.COM")
	procs := []*harness.Process{
		harness.StartSlapd(t, harness.SlapdConfig{LDIF: aliceLDIF}).Process(),
		harness.StartMITKDC(t, harness.MITKDCConfig{Realm: "EXAMPLE.COM", KDCCertPEM: r.kdcCertPEM, KDCKeyPEM: r.kdcKeyPEM, AnchorsPEM: r.caPEM}).Process(),
		harness.StartPCSCD(t).Process(),
	}
	for _, p := range procs {
		fmt.Printf("PID %s %d\n", p.Name, p.PID())
	}
	fmt.Println("READY")
	switch mode {
	case "fail":
		t.Fatal("failing on purpose, with components running")
	case "kill":
		select {} // until the parent kills this process
	default:
		t.Fatalf("unknown %s=%q", childMode, mode)
	}
}

// TestNoProcessOutlivesTest runs TestHarnessChild in a subprocess that starts
// slapd, krb5kdc and pcscd and then fails (cleanups run) or is killed with
// SIGKILL (no cleanup runs: the parent-death signal must do the work), and then
// checks the process table for every PID it printed.
func TestNoProcessOutlivesTest(t *testing.T) {
	harness.Require(t, "slapd", "slapd")
	harness.Require(t, "krb5kdc", "krb5-kdc")
	harness.Require(t, "pcscd", "pcscd")
	for _, mode := range []string{"fail", "kill"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHarnessChild$", "-test.v")
			cmd.Env = append(os.Environ(), childMode+"="+mode)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pids := map[string]int{}
			sc := bufio.NewScanner(stdout)
			var transcript strings.Builder
			for sc.Scan() {
				line := sc.Text()
				transcript.WriteString(line + "\n")
				if f := strings.Fields(line); len(f) == 3 && f[0] == "PID" {
					pid, _ := strconv.Atoi(f[2])
					pids[f[1]] = pid
				}
				if line == "READY" && mode == "kill" {
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				}
			}
			err = cmd.Wait()
			if err == nil {
				t.Fatalf("child passed; it must fail or be killed:\n%s", transcript.String())
			}
			if len(pids) != 3 {
				t.Fatalf("child printed %d PIDs, want 3:\n%s\n%s", len(pids), transcript.String(), stderr.String())
			}
			if mode == "fail" && !strings.Contains(transcript.String(), "failing on purpose") {
				t.Fatalf("child did not fail on purpose:\n%s", transcript.String())
			}
			deadline := time.Now().Add(10 * time.Second)
			for name, pid := range pids {
				for harness.Alive(pid) {
					if time.Now().After(deadline) {
						t.Fatalf("%s (pid %d) still running after the test process exited", name, pid)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}
