package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// reproduce names, for each group of targets, the command that measures
// it alone (make bench runs them all).
var reproduce = [][2]string{
	{"KDC CPU per exchange and the per-core rates", "make build && go run ./bench/cmd/benchreport -sclogon bin/sclogon -kdcprofile '' -o /tmp/bench.md -kx 'DH-2048,ECDH P-256' -concurrency 8 -mit-workers 0 -other-keys '' -storm-users 0 -client=false   # part 2 gives the floors, the per-core table the figures"},
	{"slapd with OCSP, and the storm", "make build && go test -run '^$' -bench '^Benchmark(Directory|Storm)$' -benchtime 1x -timeout 60m ./bench/kdcload -args -sclogon $PWD/bin/sclogon"},
	{"the DH timing statistic", "go test -run '^$' -bench '^BenchmarkDH2048SecretTiming$' -benchtime 1x -count 3 ./pkinit"},
	{"the client's APDUs", "make build && go run ./bench/cmd/benchreport -sclogon bin/sclogon -kdcprofile '' -o /tmp/bench.md -runs 3 -duration 200ms -warmup 100ms -concurrency 1 -users 2 -count 1 -mit-workers 0 -other-keys '' -kx DH-2048 -per-core-concurrency 0 -storm-users 0"},
}

func (r *Report) perCoreCell(kdc, kx string) (Cell, bool) {
	for _, c := range r.PerCore {
		if c.KDC == kdc && c.KeyExchange == kx {
			return c, true
		}
	}
	return Cell{}, false
}

// inProcess is kdc's BenchmarkASExchange for key exchange kx, if measured.
func (r *Report) inProcess(kx string) (time.Duration, bool) {
	name := map[string]string{"DH-2048": "ASExchange/DH2048", "ECDH P-256": "ASExchange/ECDHP256"}[kx]
	for _, o := range r.InProcess {
		if o.Name == name {
			return time.Duration(o.NsPerOp), true
		}
	}
	return 0, false
}

// pairedRatio is a's figure over b's: the median of the ratios run by run
// when both cells were measured in the same rounds (in turns, so that each
// round's pair saw the machine alike), else the ratio of the medians. fig
// is a run's figure (i ≥ 0) or the cell's median (i = -1).
func pairedRatio(a, b Cell, fig func(c Cell, i int) float64) float64 {
	n := len(a.RunRates)
	if n == 0 || n != len(b.RunRates) || n != len(a.RunKDCCPU) || n != len(b.RunKDCCPU) {
		return fig(a, -1) / fig(b, -1)
	}
	as, bs := make([]float64, n), make([]float64, n)
	for i := range n {
		as[i], bs[i] = fig(a, i), fig(b, i)
	}
	return MedianRatio(as, bs)
}

// MedianRatio is the median over i of a[i]/b[i], the runs of two rows
// measured in turns, leaving out a run of b at 0; 0 when none is left.
func MedianRatio(a, b []float64) float64 {
	var ratios []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			ratios = append(ratios, a[i]/b[i])
		}
	}
	return Median(ratios)
}

// rateOf and capacityOf are a run's figures for pairedRatio.
func rateOf(c Cell, i int) float64 {
	if i < 0 {
		return c.Rate
	}
	return c.RunRates[i]
}

func capacityOf(c Cell, i int) float64 {
	if i < 0 {
		return capacity(c)
	}
	if c.RunKDCCPU[i] <= 0 {
		return 0
	}
	return 1 / c.RunKDCCPU[i].Seconds()
}

func times(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

func capacity(c Cell) float64 {
	if c.KDCCPU <= 0 {
		return 0
	}
	return 1 / c.KDCCPU.Seconds()
}

// freshClientCost says what a fresh key costs the clients per DH-2048 logon,
// from the two-core table's busiest sclogon row, where they make one per
// logon; empty when that table was not measured.
func (r *Report) freshClientCost() string {
	c, ok := r.Best("sclogon", "DH-2048")
	if !ok || c.LoadCPU <= 0 {
		return ""
	}
	return fmt.Sprintf(" (in the two-core table %s of the clients' CPU per DH-2048 logon against sclogon's %s)", ms(c.LoadCPU), ms(c.KDCCPU))
}

func (r *Report) perCoreSection() string {
	if len(r.PerCore) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("### Per core: each KDC pinned to CPU 0, the clients to CPU 1\n\n")
	fmt.Fprintf(&b, "Each KDC runs under `taskset -c 0` (sclogon's Go runtime then runs with GOMAXPROCS 1, MIT as its one process), the load generator's threads are pinned to CPU 1, so both KDCs get the same single core. So that the clients' one core does not set the rate, each client makes one key-agreement key and reuses it, remembering the secret of its last agreement (`kdcload.Load.ReuseClientKeys`); a logon's client makes a fresh key and computes every secret%s. Against sclogon's KDC, whose key is reused too (`dh_key_reuse`), a client then computes each secret once; against MIT's, which makes a key per request, every time. Neither KDC does less: each validates the client's value and computes the secret for every request. *KDC core busy* is the KDC's CPU time over the wall time: below 100%% the clients' core, not the KDC, set the rate. *Capacity* is one second over the KDC's CPU per exchange: what the core would do with the clients elsewhere.", r.freshClientCost())
	if n := r.PerCore[0].Runs; n > 0 {
		fmt.Fprintf(&b, " The rows were measured in turns, a %s-second run of each per round, %d rounds: each figure is the median of its row's runs, and each comparison with MIT the median of the rounds' ratios, so that a machine whose speed drifts weighs on both sides of each ratio alike.", strconv.FormatFloat(r.Duration.Seconds(), 'f', -1, 64), n)
	}
	b.WriteString("\n\n")
	b.WriteString("| KDC | key exchange | concurrency | exchanges/s | p50 | p99 | KDC CPU/exchange | KDC core busy | capacity (1 core) | vs MIT DH-2048 (rate) | vs MIT DH-2048 (capacity) | errors | load |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	mit, okMIT := r.perCoreCell("MIT", "DH-2048")
	for _, c := range r.PerCore {
		vsRate, vsCap := "–", "–"
		if okMIT && c.KDC != "MIT" {
			vsRate, vsCap = times(pairedRatio(c, mit, rateOf)), times(pairedRatio(c, mit, capacityOf))
		}
		errs := fmt.Sprint(c.Errors)
		if c.Errors > 0 && c.FirstError != "" {
			errs += " (" + c.FirstError + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %.0f%% | %s/s | %s | %s | %s | %s |\n", c.KDC, c.KeyExchange, c.Concurrency, rate(c.Rate), ms(c.P50), ms(c.P99), ms(c.KDCCPU),
			100*c.KDCCPU.Seconds()*c.Rate, rate(capacity(c)), vsRate, vsCap, errs, c.Load)
	}
	b.WriteString("\n")
	dh, okDH := r.inProcess("DH-2048")
	ec, okEC := r.inProcess("ECDH P-256")
	if okDH || okEC {
		fmt.Fprintf(&b, "The same exchange in the process, without the network (kdc `BenchmarkASExchange`, GOMAXPROCS 1, medians over the runs: both AS-REQs of a logon handed to the KDC as bytes, the same configuration): DH-2048 %s, ECDH P-256 %s per exchange. The difference to *KDC CPU/exchange* above is what serving over loopback adds: the kernel's TCP and UDP work (on loopback the KDC's writes also run the receiving side's protocol processing), the accept, read, write and close of each connection, and the Go runtime's network polling and scheduling.\n\n",
			msOr(dh, okDH), msOr(ec, okEC))
	}
	return b.String()
}

func msOr(d time.Duration, ok bool) string {
	if !ok {
		return "not measured"
	}
	return ms(d)
}

func (r *Report) directoryRow(name string) (DirectoryRow, bool) {
	for _, d := range r.Directory {
		if d.Name == name {
			return d, true
		}
	}
	return DirectoryRow{}, false
}

var directoryNames = map[string][2]string{
	"ldif":             {"LDIF file", "off"},
	"slapd-ocsp":       {"slapd (the harness's)", "hard, warm cache"},
	"slapd-ocsp-cache": {"slapd, with the mapping cache", "hard, warm cache"},
}

func (r *Report) directorySection() string {
	var b strings.Builder
	if len(r.Directory) > 0 {
		b.WriteString("### sclogon with a real directory and OCSP\n\n")
		b.WriteString("bench/kdcload BenchmarkDirectory: DH-2048, concurrency 8, P-256 users, `dh_key_reuse = 10m`, on both cores as in the tables above, each row measured right after the others so that they compare. The accounts are in the KDC's LDIF file, or in OpenLDAP's slapd as integration/harness runs it (the AD schema subset, configured as Debian's package configures slapd: `member` and the searched attributes indexed, `olcLogLevel: none`), reached over LDAP with a bind (pool_size 4); OCSP is `ocsp = hard` against a local responder for the realm's CA (certs/pki's, which reads the CA's index at every request), its answers cached by the KDC: every user logs on once before the counted windows (a warm cache). Each row is the median of rounds in which every row takes its turn, and *vs LDIF* the median of the rounds' ratios, so that other work on the machine weighs on all alike.\n\n")
		b.WriteString("| directory | OCSP | exchanges/s | vs LDIF | p50 | p99 | KDC CPU/exchange | errors |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		ldif, okLDIF := r.directoryRow("ldif")
		for _, d := range r.Directory {
			vs := "–"
			if okLDIF && d.Name != "ldif" && ldif.Rate > 0 {
				vs = fmt.Sprintf("%.0f%%", 100*d.vsLDIF(ldif))
			}
			n := directoryNames[d.Name]
			if d.Name == "slapd-ocsp-cache" && r.MappingCache > 0 {
				n[0] = fmt.Sprintf("slapd, `cache_ttl = %s` in [mapping]", r.MappingCache)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", n[0], n[1], rate(d.Rate), vs, ms(d.P50), ms(d.P99), ms(d.KDCCPU), d.Errors)
		}
		b.WriteString("\n")
	}
	if s := r.Storm; s != nil {
		b.WriteString("### A logon storm\n\n")
		fmt.Fprintf(&b, "bench/kdcload BenchmarkStorm: %d distinct users (each with its own certificate, account and OCSP status) log on once each, %d at a time, DH-2048, against a KDC just started: its OCSP cache cold (every certificate asked about for the first time), the accounts in slapd, `dh_key_reuse = 0` (a fresh DH key per request). The OCSP responder and the clients share the machine with the KDC and slapd.\n\n", s.Users, s.Concurrency)
		b.WriteString("| users | concurrency | served | errors | time to serve all | exchanges/s | p50 | p99 | KDC CPU/exchange |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %.1f s | %s | %s | %s | %s |\n\n", s.Users, s.Concurrency, s.Served, s.Errors, s.ServeAll.Seconds(), rate(s.Rate), ms(s.P50), ms(s.P99), ms(s.KDCCPU))
	}
	return b.String()
}

// dudectThreshold is the |t| above which dudect reads a timing difference.
const dudectThreshold = 4.5

func maxAbs(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func (r *Report) timingSection() string {
	t := r.DHTiming
	if t == nil || len(t.Bigmod) == 0 {
		return ""
	}
	f := func(xs []float64) string {
		var s []string
		for _, x := range xs {
			s = append(s, fmt.Sprintf("%.2f", x))
		}
		return strings.Join(s, ", ")
	}
	var b strings.Builder
	b.WriteString("### Does the DH exponentiation's time depend on the secret?\n\n")
	fmt.Fprintf(&b, "pkinit BenchmarkDH2048SecretTiming times the group-14 secret y^x with a 256-bit exponent of all ones and one with two set bits (the top bit is always set), %d samples each, interleaved, and gives Welch's t between them after dropping the samples above the pooled 90th percentile (preemptions on a shared machine), as dudect does; |t| above %.1f is a difference, below it noise. The KDC's secret is bigmod's (constant-time); math/big's, which it used before, for contrast. %d runs:\n\n", t.Samples, dudectThreshold, t.Runs)
	fmt.Fprintf(&b, "| exponentiation | \\|t\\| per run | largest |\n|---|---|---:|\n| bigmod (the KDC's, the client's) | %s | %.2f |\n| math/big (before) | %s | %.2f |\n\n", f(t.Bigmod), maxAbs(t.Bigmod), f(t.MathBig), maxAbs(t.MathBig))
	if c, ok := r.op("DH2048Secret"); ok {
		if m, ok := r.op("DH2048SecretMathBig"); ok {
			fmt.Fprintf(&b, "Cost: DH2048Secret (bigmod, validation included) %.0f ns against DH2048SecretMathBig %.0f ns (%s).\n\n", c, m, ratio(c, m))
		}
	}
	return b.String()
}

// kdcTargets reports the KDC targets through target.
func (r *Report) kdcTargets(target func(name, measured string, met, known bool)) {
	floor := func(kx string) string {
		if l, ok := r.limitFor(kx); ok {
			if sum, ok := r.LimitSum(l); ok {
				return "floor " + ms(sum)
			}
		}
		return "floor not measured"
	}
	cpu := func(kx string, limit time.Duration) {
		c, ok := r.perCoreCell("sclogon", kx)
		name := fmt.Sprintf("KDC CPU per exchange, %s ≤ %s (one core)", kx, ms(limit))
		measured := fmt.Sprintf("%s over loopback (%s)", ms(c.KDCCPU), floor(kx))
		if d, ok := r.inProcess(kx); ok {
			measured += fmt.Sprintf("; %s in the process, without the network", ms(d))
		}
		target(name, measured, ok && c.KDCCPU > 0 && c.KDCCPU <= limit, ok && c.KDCCPU > 0)
	}
	cpu("DH-2048", time.Millisecond)
	cpu("ECDH P-256", 400*time.Microsecond)
	mit, okMIT := r.perCoreCell("MIT", "DH-2048")
	dh, okDH := r.perCoreCell("sclogon", "DH-2048")
	ec, okEC := r.perCoreCell("sclogon", "ECDH P-256")
	perCore := func(name string, c Cell, ok bool, want float64) {
		vsRate, vsCap := pairedRatio(c, mit, rateOf), pairedRatio(c, mit, capacityOf)
		target(name, fmt.Sprintf("%s vs %s/s: %s (capacity %s vs %s/s: %s)", rate(c.Rate), rate(mit.Rate), times(vsRate),
			rate(capacity(c)), rate(capacity(mit)), times(vsCap)), ok && okMIT && vsRate >= want, ok && okMIT)
	}
	perCore("per core, DH-2048 ≥ 4× MIT krb5kdc's exchanges/s", dh, okDH, 4)
	perCore("per core, ECDH P-256 ≥ 15× MIT's DH-2048 exchanges/s", ec, okEC, 15)
	ldif, okL := r.directoryRow("ldif")
	slapd, okS := r.directoryRow("slapd-ocsp")
	vs := slapd.vsLDIF(ldif)
	target("slapd with OCSP (warm) ≥ 80% of the LDIF exchanges/s", fmt.Sprintf("%s vs %s/s: %.0f%%", rate(slapd.Rate), rate(ldif.Rate), 100*vs),
		okL && okS && vs >= 0.8, okL && okS)
	if s := r.Storm; s != nil {
		target(fmt.Sprintf("storm of %d users: 0 errors", s.Users), fmt.Sprintf("%d served, %d errors in %.1f s (p99 %s)", s.Served, s.Errors, s.ServeAll.Seconds(), ms(s.P99)),
			s.Errors == 0 && s.Served == s.Users, true)
	} else {
		target("storm of 10000 users: 0 errors", "not measured", false, false)
	}
	if t := r.DHTiming; t != nil && len(t.Bigmod) > 0 {
		worst := maxAbs(t.Bigmod)
		target(fmt.Sprintf("DH exponentiation: no dependence on the exponent's bits beyond noise (\\|t\\| < %.1f)", dudectThreshold),
			fmt.Sprintf("largest \\|t\\| %.2f over %d runs (math/big: %.2f)", worst, t.Runs, maxAbs(t.MathBig)), worst < dudectThreshold, true)
	}
}
