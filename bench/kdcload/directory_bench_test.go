package kdcload

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/bench/report"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/pkinit"
)

// The directory and storm benchmarks run sclogon's KDC out of process, as
// bench/cmd/benchreport does; it passes these after -args.
var (
	sclogonFlag      = flag.String("sclogon", "", "the sclogon binary (empty: go build it)")
	durationFlag     = flag.Duration("duration", 5*time.Second, "counted time of each directory row")
	concurrencyFlag  = flag.Int("concurrency", 8, "clients of each directory row and of the storm")
	usersFlag        = flag.Int("users", 32, "users of the directory rows")
	stormUsersFlag   = flag.Int("storm-users", 10000, "distinct users of the storm")
	mappingCacheFlag = flag.Duration("mapping-cache", time.Minute, "[mapping] cache_ttl of the third directory row (0: no such row)")
	runsFlag         = flag.Int("runs", 3, "rounds of the directory rows (medians are reported)")
)

// sclogonBinary is -sclogon, or sclogon built for this benchmark.
func sclogonBinary(b *testing.B) string {
	if *sclogonFlag != "" {
		p, err := filepath.Abs(*sclogonFlag)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	bin := filepath.Join(b.TempDir(), "sclogon")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/sclogon/sclogon/cmd/sclogon").CombinedOutput(); err != nil {
		b.Fatalf("go build sclogon: %v\n%s", err, out)
	}
	return bin
}

// slapdFor loads r's accounts into the harness's slapd and returns the
// [directory] section that points sclogon's KDC at it.
func slapdFor(b *testing.B, r *Realm) string {
	ldif, err := os.ReadFile(r.LDIF)
	if err != nil {
		b.Fatal(err)
	}
	l := harness.StartSlapd(b, harness.SlapdConfig{LDIF: "dn: cn=Users,dc=example,dc=com\nobjectClass: organizationalRole\ncn: Users\n\n" + string(ldif)})
	secret := filepath.Join(r.Dir, "ldap.secret")
	if err := os.WriteFile(secret, []byte(l.Password+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("    url = %s\n    base_dn = %s\n    bind_dn = %s\n    password_file = %s\n    timeout = 5s\n    pool_size = 4\n", l.URL, l.Suffix, l.BindDN, secret)
}

// ocspResponder serves r's CA's OCSP on a loopback port until the benchmark
// ends and returns its URL.
func ocspResponder(b *testing.B, r *Realm) string {
	resp, err := pki.NewResponder(r.CA, pki.ResponderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = resp.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String() + "/"
}

func startKDC(b *testing.B, r *Realm, o SclogonOptions) *Process {
	p, err := StartSclogonKDC(context.Background(), r, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Stop() })
	return p
}

func reportResult(b *testing.B, res Result) {
	b.ReportMetric(res.PerSecond(), "exch/s")
	b.ReportMetric(ms(res.Percentile(50)), "p50-ms")
	b.ReportMetric(ms(res.Percentile(99)), "p99-ms")
	b.ReportMetric(ms(res.KDCCPUPerExchange()), "kdc-cpu-ms/exch")
	b.ReportMetric(float64(res.Errors), "errors")
	if res.FirstErr != nil {
		b.Logf("first error: %v", res.FirstErr)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

var dh2048 = kinit.KeyExchange{Group: pkinit.MODPGroup14}

// BenchmarkDirectory is DH-2048 at -concurrency with the KDC's accounts in
// its LDIF file (OCSP off), then in the harness's slapd with OCSP on (hard,
// a local responder for the realm's CA) and a warm OCSP cache (every user
// logged on once before the count), then the same with the mapping cache:
// exchanges/s, latency and the KDC's CPU per exchange of each, the medians
// of -runs rounds in which every row takes its turn, so that a busy
// machine weighs on all rows alike.
func BenchmarkDirectory(b *testing.B) {
	bin := sclogonBinary(b)
	r, err := NewRealm(b.TempDir(), *usersFlag, Keys{User: pki.P256, KDC: pki.P256})
	if err != nil {
		b.Fatal(err)
	}
	pol, err := r.ClientPolicy()
	if err != nil {
		b.Fatal(err)
	}
	dir, ocsp := slapdFor(b, r), ocspResponder(b, r)
	type row struct {
		name    string
		o       SclogonOptions
		p       *Process
		results []Result
	}
	rows := []*row{
		{name: "ldif"},
		{name: "slapd-ocsp", o: SclogonOptions{Directory: dir, OCSPResponder: ocsp}},
	}
	if *mappingCacheFlag > 0 {
		rows = append(rows, &row{name: "slapd-ocsp-cache", o: SclogonOptions{Directory: dir, OCSPResponder: ocsp, MappingCache: *mappingCacheFlag}})
	}
	ctx := context.Background()
	for _, row := range rows {
		row.o.Command, row.o.DHKeyReuse = []string{bin, "kdc"}, 10*time.Minute
		row.p = startKDC(b, r, row.o)
		warm, err := RunStorm(ctx, Storm{Addr: row.p.Addr, Users: r.Users, KeyExchange: dh2048, Concurrency: *concurrencyFlag, Policy: pol})
		if err != nil || warm.Errors > 0 {
			b.Fatalf("%s: warming up: %v; %d errors, first %v\n%s", row.name, err, warm.Errors, warm.FirstErr, tail(row.p.Log()))
		}
	}
	for range *runsFlag {
		for _, row := range rows {
			res, err := Run(ctx, Load{Addr: row.p.Addr, Users: r.Users, KeyExchange: dh2048, Concurrency: *concurrencyFlag,
				Warmup: time.Second, Duration: *durationFlag, Policy: pol, KDC: row.p})
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %.1f/s, KDC %v/exchange, %d errors", row.name, res.PerSecond(), res.KDCCPUPerExchange().Round(time.Microsecond), res.Errors)
			row.results = append(row.results, res)
		}
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			reportMedian(b, row.results)
			if row != rows[0] {
				b.ReportMetric(pairedRateRatio(row.results, rows[0].results), "vs-ldif")
			}
		})
	}
}

// pairedRateRatio is the median over the rounds of a's rate over b's in
// the same round: the rows took their turns round by round, so each
// round's pair saw the machine alike, where the ratio of the medians
// mixes rounds.
func pairedRateRatio(a, b []Result) float64 {
	rate := func(rs []Result) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = r.PerSecond()
		}
		return out
	}
	return report.MedianRatio(rate(a), rate(b))
}

// reportMedian reports the run whose rate is the median of results, and
// the errors of all.
func reportMedian(b *testing.B, results []Result) {
	sorted := slices.SortedFunc(slices.Values(results), func(x, y Result) int { return cmp.Compare(x.PerSecond(), y.PerSecond()) })
	med := sorted[len(sorted)/2]
	for _, r := range results {
		if r.FirstErr != nil && med.FirstErr == nil {
			med.FirstErr = r.FirstErr
		}
	}
	errs := 0
	for _, r := range results {
		errs += r.Errors
	}
	med.Errors = errs
	reportResult(b, med)
}

// BenchmarkStorm is -storm-users distinct users (10,000) logging on once
// each, -concurrency at a time, against a KDC just started: its OCSP cache
// cold (each user's certificate asked about for the first time), accounts
// in the harness's slapd, a fresh DH key per request (dh_key_reuse = 0).
// It reports the time to serve them all, latency and errors.
func BenchmarkStorm(b *testing.B) {
	bin := sclogonBinary(b)
	start := time.Now()
	r, err := NewRealm(stormDir(b), *stormUsersFlag, Keys{User: pki.P256, KDC: pki.P256})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d users issued in %v", len(r.Users), time.Since(start).Round(time.Second))
	pol, err := r.ClientPolicy()
	if err != nil {
		b.Fatal(err)
	}
	dir, ocsp := slapdFor(b, r), ocspResponder(b, r)
	var res Result
	for b.Loop() {
		p := startKDC(b, r, SclogonOptions{Command: []string{bin, "kdc"}, Directory: dir, OCSPResponder: ocsp})
		if res, err = RunStorm(context.Background(), Storm{Addr: p.Addr, Users: r.Users, KeyExchange: dh2048, Concurrency: *concurrencyFlag, Policy: pol, KDC: p}); err != nil {
			b.Fatal(err)
		}
	}
	reportResult(b, res)
	b.ReportMetric(res.Wall.Seconds(), "serve-all-s")
	b.ReportMetric(float64(res.Exchanges), "served")
}

// stormDir is where the storm's realm goes: in memory (/dev/shm) where
// there is one, as the CA rewrites and syncs its index at every one of the
// 10,000 issuances.
func stormDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "sclogon-storm-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return b.TempDir()
}

// tail is the end of a KDC's log, for a failure message.
func tail(s string) string {
	if i := strings.LastIndexByte(s[:max(0, len(s)-2000)], '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
