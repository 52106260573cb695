package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// TestKinitRenewableMIT is issue 17's renewal acceptance against MIT
// krb5kdc: `sclogon kinit -r 7d -f -l 2h` gets a renewable, forwardable TGT
// (MIT klist -f: R, F, "renew until"); `sclogon kinit -R` renews it; MIT
// kinit -R renews one sclogon obtained, and sclogon -R one MIT kinit obtained.
func TestKinitRenewableMIT(t *testing.T) {
	e := newKinitEnv(t)
	checkRenewal(t, e.mit, "FILE:"+e.cert+","+e.key, "alice")
}

// TestKinitRenewableOurKDC: the same against sclogon's own KDC.
func TestKinitRenewableOurKDC(t *testing.T) {
	mit, identity := startOurKDC(t)
	checkRenewal(t, mit, identity, "alice")
}

func checkRenewal(t *testing.T, mit *harness.MITClient, identity, principal string) {
	t.Setenv("KRB5_CONFIG", mit.Config)
	t.Setenv("KRB5CCNAME", "FILE:"+mit.CCache)
	code, _, stderr := runKinitCmd(t, "", "--identity", identity, "-r", "7d", "-f", "-l", "2h", principal)
	if code != exitOK || !strings.Contains(stderr, "renewable until") {
		t.Fatalf("sclogon kinit -r 7d -f -l 2h: exit %d:\n%s", code, stderr)
	}
	first := klistTGT(t, mit)
	if !strings.Contains(first.flags, "R") || !strings.Contains(first.flags, "F") || first.renewTill.IsZero() {
		t.Fatalf("MIT klist -f: flags %q, renew until %v, want R, F and a renew-till", first.flags, first.renewTill)
	}
	if life := first.end.Sub(first.start); life < 2*time.Hour-time.Minute || life > 2*time.Hour+time.Minute {
		t.Errorf("lifetime %v, asked for 2h", life)
	}
	if rl := first.renewTill.Sub(first.start); rl < 7*24*time.Hour-time.Minute || rl > 7*24*time.Hour+time.Minute {
		t.Errorf("renewable life %v, asked for 7d", rl)
	}
	time.Sleep(1100 * time.Millisecond) // a renewed ticket starts a second later
	code, _, stderr = runKinitCmd(t, "", "-R")
	if code != exitOK {
		t.Fatalf("sclogon kinit -R: exit %d:\n%s", code, stderr)
	}
	renewed := klistTGT(t, mit)
	if !renewed.start.After(first.start) || !renewed.renewTill.Equal(first.renewTill) || !strings.Contains(renewed.flags, "R") {
		t.Fatalf("sclogon -R: before %+v, after %+v", first, renewed)
	}
	// MIT kinit -R renews what sclogon renewed.
	harness.Run(t, mit.Command(t, "kinit", "-R"))
	// sclogon -R renews what MIT kinit obtained.
	harness.Run(t, mit.Command(t, "kinit", "-X", "X509_user_identity="+identity, "-r", "7d", "-f", "-l", "2h", principal))
	time.Sleep(1100 * time.Millisecond)
	mitTGT := klistTGT(t, mit)
	if code, _, stderr = runKinitCmd(t, "", "-R", "-V"); code != exitOK {
		t.Fatalf("sclogon kinit -R of MIT's ticket: exit %d:\n%s", code, stderr)
	}
	if again := klistTGT(t, mit); !again.start.After(mitTGT.start) || !strings.Contains(again.flags, "F") {
		t.Fatalf("sclogon -R of MIT's TGT: before %+v, after %+v", mitTGT, again)
	}
}

// klistEntry is the TGT as MIT klist -f shows it.
type klistEntry struct {
	start, end, renewTill time.Time
	flags                 string
}

var klistLine = regexp.MustCompile(`(?m)^(\S+ \S+)\s+(\S+ \S+)\s+krbtgt/\S+\n\s+(?:renew until (\S+ \S+), )?Flags: (\S*)`)

func klistTGT(t *testing.T, mit *harness.MITClient) klistEntry {
	t.Helper()
	out := harness.Run(t, mit.Command(t, "klist", "-f"))
	m := klistLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no TGT in klist -f:\n%s", out)
	}
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		v, err := time.ParseInLocation("01/02/06 15:04:05", s, time.Local)
		if err != nil {
			t.Fatalf("klist time %q: %v\n%s", s, err, out)
		}
		return v
	}
	return klistEntry{start: parse(m[1]), end: parse(m[2]), renewTill: parse(m[3]), flags: m[4]}
}

// startOurKDC runs sclogon's KDC for EXAMPLE.COM with alice (UPN and SID
// mapping, as a domain controller does), and returns an MIT client set up
// for it and alice's FILE: identity.
func startOurKDC(t *testing.T) (*harness.MITClient, string) {
	t.Helper()
	s := startSIDKDC(t)
	dir := t.TempDir()
	key, cert := issueFor(t, s.ca, pki.UserProfile, pki.User{UPN: "alice@EXAMPLE.COM", SID: s.sid})
	certPath, keyPath := filepath.Join(dir, "alice.pem"), filepath.Join(dir, "alice.key")
	if err := pki.WriteKeyAndCert(keyPath, certPath, key, cert); err != nil {
		t.Fatal(err)
	}
	return s.mit, "FILE:" + certPath + "," + keyPath
}

// TestKinitFlagsLikeMIT drives each of MIT kinit's ticket flags through
// `sclogon kinit` and MIT kinit, with the same certificate and krb5.conf
// (forwardable, proxiable and ticket_lifetime = 8h in [libdefaults], so
// that the defaults are read and -F and -P override them), against MIT
// krb5kdc, and compares the tickets the two caches hold: server, client,
// flags, lifetime, renewable life, postdated start, addresses.
func TestKinitFlagsLikeMIT(t *testing.T) {
	e := newKinitEnv(t)
	anchors, err := os.ReadFile(e.anchor)
	if err != nil {
		t.Fatal(err)
	}
	mit := e.kdc.Client(t, harness.MITClientConfig{AnchorsPEM: anchors,
		Libdefaults: []string{"forwardable = true", "proxiable = true", "ticket_lifetime = 8h"}})
	t.Setenv("KRB5_CONFIG", mit.Config)
	// MIT's KDC finds an enterprise name only as a principal of that name
	// (1.20 has no aliases); its PKINIT then matches it to the UPN.
	e.kdc.AddPrincipal(t, `+requires_preauth -nokey alice\@EXAMPLE.COM`)
	identity := "FILE:" + e.cert + "," + e.key
	for _, tc := range []struct {
		args      []string
		principal string
	}{
		{nil, "alice"},
		{[]string{"-l", "2h"}, "alice"},
		{[]string{"-l", "1:30"}, "alice"},
		{[]string{"-r", "3d"}, "alice"},
		{[]string{"-r", "7d", "-f", "-l", "2h"}, "alice"},
		{[]string{"-f"}, "alice"},
		{[]string{"-F"}, "alice"},
		{[]string{"-p"}, "alice"},
		{[]string{"-P"}, "alice"},
		{[]string{"-F", "-P"}, "alice"},
		{[]string{"-s", "10m"}, "alice"},
		{[]string{"-E"}, "alice@EXAMPLE.COM"},
		{[]string{"-C"}, "alice"},
		{[]string{"-S", "host/svc.example.com"}, "alice"},
	} {
		t.Run(strings.Join(append([]string{"kinit"}, tc.args...), " "), func(t *testing.T) {
			dir := t.TempDir()
			mitCC, ourCC := filepath.Join(dir, "mit"), filepath.Join(dir, "ours")
			args := append(append([]string{"-X", "X509_user_identity=" + identity, "-c", "FILE:" + mitCC}, tc.args...), tc.principal)
			harness.Run(t, mit.Command(t, "kinit", args...))
			args = append(append([]string{"--identity", identity, "-c", "FILE:" + ourCC}, tc.args...), tc.principal)
			if code, _, stderr := runKinitCmd(t, "", args...); code != exitOK {
				t.Fatalf("sclogon kinit %v: exit %d:\n%s", args, code, stderr)
			}
			want, got := initialTicket(t, mitCC), initialTicket(t, ourCC)
			t.Logf("MIT: %s", want)
			if want.String() != got.String() {
				t.Errorf("tickets differ:\nMIT kinit:     %s\nsclogon kinit: %s", want, got)
			}
		})
	}
}

// ticketSummary is what the flag comparison looks at, times rounded to
// the minute (the two kinits run a moment apart).
type ticketSummary struct {
	client, server        string
	flags                 uint32
	life, renew, postdate time.Duration
	addresses             int
}

func (s ticketSummary) String() string {
	return fmt.Sprintf("%s → %s flags %s life %v renewable %v postdated by %v addresses %d",
		s.client, s.server, ticketFlagLetters(s.flags), s.life, s.renew, s.postdate, s.addresses)
}

func initialTicket(t *testing.T, path string) ticketSummary {
	t.Helper()
	cc, err := ccache.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cc.Credentials {
		if c.Server.Realm == ccache.ConfigRealm {
			continue
		}
		s := ticketSummary{
			client: cc.Principal.String(), server: c.Server.String(), flags: c.Flags,
			life: c.EndTime.Sub(c.StartTime).Round(time.Minute), postdate: c.StartTime.Sub(c.AuthTime).Round(time.Minute),
			addresses: len(c.Addresses),
		}
		if !c.RenewTill.IsZero() {
			s.renew = c.RenewTill.Sub(c.StartTime).Round(time.Minute)
		}
		return s
	}
	t.Fatalf("%s holds no ticket", path)
	return ticketSummary{}
}

// ticketFlagLetters spells flags as MIT klist -f does.
func ticketFlagLetters(f uint32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit    int
		letter string
	}{{1, "F"}, {2, "f"}, {3, "P"}, {4, "p"}, {5, "D"}, {6, "d"}, {7, "i"}, {8, "R"}, {9, "I"}, {10, "A"}, {11, "H"}, {12, "T"}, {13, "O"}} {
		if f&(1<<(31-x.bit)) != 0 {
			b.WriteString(x.letter)
		}
	}
	return b.String()
}

// TestKinitValidateAndTrace: `sclogon kinit -s 2s` gets a postdated,
// invalid TGT from MIT krb5kdc; once it starts, `sclogon kinit -v` has it
// validated (MIT klist -f: no longer i). KRB5_TRACE gets MIT-form lines.
func TestKinitValidateAndTrace(t *testing.T) {
	e := newKinitEnv(t)
	tracePath := filepath.Join(e.dir, "trace.log")
	t.Setenv("KRB5_TRACE", tracePath)
	if code, _, stderr := runKinitCmd(t, "", "--identity", "FILE:"+e.cert+","+e.key, "-s", "2s", "alice"); code != exitOK {
		t.Fatalf("sclogon kinit -s 2s: exit %d:\n%s", code, stderr)
	}
	if tgt := klistTGT(t, e.mit); !strings.Contains(tgt.flags, "i") || !strings.Contains(tgt.flags, "d") {
		t.Fatalf("postdated TGT flags %q, want d and i", tgt.flags)
	}
	if code, _, stderr := runKinitCmd(t, "", "-v"); code != exitFail || !strings.Contains(stderr, "sclogon: hint: ") {
		t.Fatalf("-v before the start time: exit %d, want a refusal with a hint:\n%s", code, stderr)
	}
	time.Sleep(2500 * time.Millisecond)
	if code, _, stderr := runKinitCmd(t, "", "-v"); code != exitOK || !strings.Contains(stderr, "validated") {
		t.Fatalf("sclogon kinit -v: exit %d:\n%s", code, stderr)
	}
	if tgt := klistTGT(t, e.mit); strings.Contains(tgt.flags, "i") {
		t.Fatalf("validated TGT flags %q still invalid", tgt.flags)
	}
	// -R on a ticket that is not renewable says how to get one.
	if code, _, stderr := runKinitCmd(t, "", "-R"); code != exitFail || !strings.Contains(stderr, "kinit -r 7d") {
		t.Fatalf("-R of a ticket that is not renewable: exit %d:\n%s", code, stderr)
	}
	trace, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(trace)), "\n")
	mitForm := regexp.MustCompile(`^\[\d+\] \d{10}\.\d{6}: \S`)
	for _, l := range lines {
		if !mitForm.MatchString(l) {
			t.Fatalf("KRB5_TRACE line not in MIT's form: %q", l)
		}
	}
	if len(lines) < 5 || !strings.Contains(string(trace), "validation of krbtgt/EXAMPLE.COM@EXAMPLE.COM") {
		t.Fatalf("KRB5_TRACE:\n%s", trace)
	}
}
