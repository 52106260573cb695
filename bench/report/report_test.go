package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	if got := Median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3,1,2 = %v", got)
	}
	if got := Median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of 4,1,3,2 = %v (integer mean of 2 and 3)", got)
	}
	if got := Median[int](nil); got != 0 {
		t.Errorf("median of nothing = %v", got)
	}
}

func testReport() *Report {
	ms := time.Millisecond
	return &Report{
		Machine: Machine{Cores: 2, CPU: "test CPU", Go: "go1.26", MIT: "krb5-kdc 1.20", Date: time.Unix(0, 0)},
		Runs:    3, Duration: 5 * time.Second, Warmup: time.Second, Users: 32, Sclogon: "`dh_key_reuse = 10m0s`",
		Cells: []Cell{
			{KDC: "sclogon", KeyExchange: "DH-2048", Concurrency: 1, Rate: 300, P50: 3 * ms, P99: 5 * ms, KDCCPU: 2 * ms, LoadCPU: 3 * ms},
			{KDC: "sclogon", KeyExchange: "DH-2048", Concurrency: 8, Rate: 400, P50: 20 * ms, P99: 40 * ms, KDCCPU: 2 * ms, LoadCPU: 3 * ms},
			{KDC: "MIT", KeyExchange: "DH-2048", Concurrency: 1, Rate: 100, P50: 9 * ms, P99: 12 * ms, KDCCPU: 7 * ms, LoadCPU: 3 * ms},
			{KDC: "MIT", KeyExchange: "DH-2048", Concurrency: 8, Rate: 110, P50: 70 * ms, P99: 90 * ms, KDCCPU: 7 * ms, LoadCPU: 3 * ms},
			{KDC: "sclogon", KeyExchange: "ECDH P-256", Concurrency: 8, Rate: 1000, KDCCPU: ms, LoadCPU: ms},
		},
		PerCore: []Cell{
			{KDC: "sclogon", KeyExchange: "DH-2048", Concurrency: 8, Runs: 5, Rate: 500, KDCCPU: 1900 * time.Microsecond},
			{KDC: "MIT", KeyExchange: "DH-2048", Concurrency: 8, Rate: 100, KDCCPU: 5 * ms},
			{KDC: "sclogon", KeyExchange: "ECDH P-256", Concurrency: 8, Rate: 1600, KDCCPU: 350 * time.Microsecond},
		},
		Directory: []DirectoryRow{{Name: "ldif", Rate: 400}, {Name: "slapd-ocsp", Rate: 300}},
		Storm:     &Storm{Users: 10000, Concurrency: 8, Served: 10000, ServeAll: 40 * time.Second, Rate: 250},
		DHTiming:  &Timing{Samples: 1000, Runs: 2, Bigmod: []float64{0.5, -1.25}, MathBig: []float64{7, 3}},
		Crypto:    []CryptoOp{{"RSA2048Verify", 50e3}, {"RSA2048Sign", 1e6}, {"DH2048Secret", 0.45e6}},
		InProcess: []CryptoOp{{"ASExchange/DH2048", 0.8e6}},
		Limits:    []Limit{{KeyExchange: "DH-2048", Setting: "reused DH key", Ops: []string{"RSA2048Verify", "RSA2048Verify", "DH2048Secret", "RSA2048Sign"}}},
		Client: []ClientRow{
			{Client: "MIT kinit + OpenSC PKCS#11", Cache: "warm", Runs: 3, APDUs: 48, Wall: 50 * ms},
			{Client: "sclogon kinit", Cache: "warm", Note: "not yet"},
		},
	}
}

func TestWriteTablesAndTargets(t *testing.T) {
	r := testReport()
	sum, ok := r.LimitSum(r.Limits[0])
	if !ok || sum != 1550*time.Microsecond {
		t.Fatalf("limit sum %v, %t; want 1.55ms", sum, ok)
	}
	var b strings.Builder
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| cores (nproc) | 2 |",
		"| sclogon | 8 | 400 | 20.00 ms | 40.00 ms | 2.00 ms | 3.00 ms | 3.64× | 0 |", // 400 vs MIT's 110 at c=8
		"| MIT | – | n/a |", // no MIT ECDH
		// The clients' cost of a fresh key, from the busiest two-core row.
		"computes every secret (in the two-core table 3.00 ms of the clients' CPU per DH-2048 logon against sclogon's 2.00 ms).",
		"| KDC CPU per exchange, DH-2048 ≤ 1.00 ms (one core) | 1.90 ms over loopback (floor 1.55 ms); 0.80 ms in the process, without the network | **no** |",
		"| KDC CPU per exchange, ECDH P-256 ≤ 0.40 ms (one core) | 0.35 ms over loopback (floor not measured) | yes |",
		"without the network (kdc `BenchmarkASExchange`, GOMAXPROCS 1, medians over the runs: both AS-REQs of a logon handed to the KDC as bytes, the same configuration): DH-2048 0.80 ms, ECDH P-256 not measured per exchange.",
		"| per core, DH-2048 ≥ 4× MIT krb5kdc's exchanges/s | 500 vs 100/s: 5.00× (capacity 526 vs 200/s: 2.63×) | yes |",
		"| per core, ECDH P-256 ≥ 15× MIT's DH-2048 exchanges/s | 1600 vs 100/s: 16.00× (capacity 2857 vs 200/s: 14.29×) | yes |",
		"| slapd with OCSP (warm) ≥ 80% of the LDIF exchanges/s | 300 vs 400/s: 75% | **no** |",
		"| storm of 10000 users: 0 errors | 10000 served, 0 errors in 40.0 s (p99 0.00 ms) | yes |",
		"| DH exponentiation: no dependence on the exponent's bits beyond noise (\\|t\\| < 4.5) | largest \\|t\\| 1.25 over 2 runs (math/big: 7.00) | yes |",
		"| warm client logon ≤ 6 APDUs | – | not measured |",
		"| sclogon | DH-2048 | 8 | 500 | 0.00 ms | 0.00 ms | 1.90 ms | 95% | 526/s | 5.00× | 2.63× | 0 |",
		"| slapd (the harness's) | hard, warm cache | 300 | 75% |",
		"The rows were measured in turns, a 5-second run of each per round, 5 rounds:",
		"Missed here: KDC CPU per exchange, DH-2048 ≤ 1.00 ms (one core); slapd with OCSP (warm) ≥ 80% of the LDIF exchanges/s.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestPairedRatio: rows measured in turns compare round by round (the
// median of the rounds' ratios), others by their medians.
func TestPairedRatio(t *testing.T) {
	ms := time.Millisecond
	a := Cell{Rate: 500, KDCCPU: 2 * ms, RunRates: []float64{500, 300, 600}, RunKDCCPU: []time.Duration{2 * ms, 4 * ms, ms}}
	b := Cell{Rate: 150, KDCCPU: 5 * ms, RunRates: []float64{100, 150, 200}, RunKDCCPU: []time.Duration{5 * ms, 6 * ms, 5 * ms}}
	if got := pairedRatio(a, b, rateOf); got != 3 { // 5, 2, 3
		t.Errorf("paired rate ratio %v, want 3 (not %v, the ratio of the medians)", got, a.Rate/b.Rate)
	}
	if got := pairedRatio(a, b, capacityOf); got != 2.5 { // 2.5, 1.5, 5
		t.Errorf("paired capacity ratio %v, want 2.5", got)
	}
	b.RunRates = b.RunRates[:2]
	if got := pairedRatio(a, b, rateOf); math.Abs(got-500.0/150) > 1e-9 {
		t.Errorf("rounds that do not pair: %v, want the ratio of the medians", got)
	}
}

// TestDirectoryVsLDIFPaired: the directory rows' ratio to LDIF is the
// benchmark's round-by-round figure when it gave one, in the table and in
// the target alike.
func TestDirectoryVsLDIFPaired(t *testing.T) {
	r := testReport()
	r.Directory = []DirectoryRow{{Name: "ldif", Rate: 400}, {Name: "slapd-ocsp", Rate: 300, VsLDIF: 0.81}}
	var b strings.Builder
	if err := Write(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| slapd (the harness's) | hard, warm cache | 300 | 81% |",
		"| slapd with OCSP (warm) ≥ 80% of the LDIF exchanges/s | 300 vs 400/s: 81% | yes |",
		"and *vs LDIF* the median of the rounds' ratios",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
