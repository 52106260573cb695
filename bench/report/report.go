// Package report writes BENCHMARKS.md from what bench/cmd/benchreport
// measured: the machine, the exact commands, the KDC tables (medians over
// runs, ratios to MIT krb5kdc and to the crypto limit), the client logon
// table, and for each target whether it was met and, when not, what bounds
// it.
//
// Fill a [Report] and call [Write].
package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Machine is where the figures were taken.
type Machine struct {
	Cores                        int
	CPU, Kernel, Go, MIT, OpenSC string
	Date                         time.Time
	LoadAverage                  string // /proc/loadavg when the run began
}

// Cell is one KDC, key exchange and concurrency: medians over Runs.
type Cell struct {
	KDC         string // "sclogon", "MIT", "MIT -w 2"
	KeyExchange string // "DH-2048", "ECDH P-256", "RSA"
	Concurrency int
	Runs        int
	Rate        float64       // exchanges per second
	P50, P99    time.Duration // latency
	KDCCPU      time.Duration // KDC CPU time per exchange
	LoadCPU     time.Duration // the clients' CPU time per exchange
	Errors      int           // failed logons, all runs
	FirstError  string
	// Load is the 1-minute load average (/proc/loadavg) before the first
	// run and after the last: other work on the machine shows here.
	Load string
	// UserKey and KDCKey are set in Report.Keys' cells: the key types.
	UserKey, KDCKey string
	// RunRates and RunKDCCPU are each run's figures, in order: the per-core
	// rows, measured in turns, compare round by round (see pairedRatio).
	RunRates  []float64
	RunKDCCPU []time.Duration
}

// Peak is a KDC process's peak RSS over all its cells.
type Peak struct {
	KDC, KeyExchange string
	RSS              int64
}

// CryptoOp is one pkinit benchmark: its median ns/op over the counts.
type CryptoOp struct {
	Name    string
	NsPerOp float64
}

// Limit is the crypto limit of one key exchange: the KDC's mandatory
// operations, each a pkinit benchmark (a name may repeat).
type Limit struct {
	KeyExchange string
	Setting     string // "reused DH key", "fresh DH key"
	Ops         []string
}

// ClientRow is one client logon measurement (medians).
type ClientRow struct {
	Client string // "MIT kinit + OpenSC PKCS#11", "sclogon kinit"
	Cache  string // "cold", "warm"
	Runs   int
	APDUs  uint64
	Wall   time.Duration
	Note   string // set instead of figures when not measured
}

// DirectoryRow is sclogon's KDC with one directory setting (bench/kdcload
// BenchmarkDirectory): "ldif", "slapd-ocsp", "slapd-ocsp-cache".
type DirectoryRow struct {
	Name     string
	Rate     float64
	P50, P99 time.Duration
	KDCCPU   time.Duration
	Errors   int
	// VsLDIF is the median over the rounds of this row's rate over the LDIF
	// row's in the same round (0: not measured, the ratio of the medians
	// stands in).
	VsLDIF float64
}

// vsLDIF is d's rate as a fraction of ldif's: VsLDIF when measured.
func (d DirectoryRow) vsLDIF(ldif DirectoryRow) float64 {
	if d.VsLDIF > 0 {
		return d.VsLDIF
	}
	return d.Rate / math.Max(ldif.Rate, 1e-9)
}

// Storm is a logon storm (bench/kdcload BenchmarkStorm): every user once.
type Storm struct {
	Users, Concurrency int
	Served, Errors     int
	ServeAll           time.Duration // time to serve all users
	Rate               float64
	P50, P99           time.Duration
	KDCCPU             time.Duration
}

// Timing is Welch's t between DH-2048 secrets with a heavy and a light
// exponent, one value per run, |t| each (pkinit BenchmarkDH2048SecretTiming).
type Timing struct {
	Samples, Runs   int // samples per exponent per run; runs
	Bigmod, MathBig []float64
}

// Report is everything BENCHMARKS.md says.
type Report struct {
	Machine  Machine
	Commands []string // to reproduce, in order
	Runs     int
	Duration time.Duration
	Warmup   time.Duration
	Users    int
	Sclogon  string // how sclogon's KDC ran: "dh_key_reuse = 10m"
	Config   string // sclogon's KDC configuration file
	UserKey  string // the users' key type in the main tables: "P-256"
	KDCKey   string // the KDCs' key type in them

	Cells   []Cell
	PerCore []Cell // each KDC pinned to one CPU, the clients on another
	Peaks   []Peak
	Reuse   []Cell // sclogon DH-2048 with and without key reuse
	Keys    []Cell // DH-2048 with other user and KDC key types
	Crypto  []CryptoOp
	Limits  []Limit
	// InProcess is kdc's BenchmarkASExchange on one core: the KDC's share
	// of an exchange without the network ("ASExchange/DH2048", ...).
	InProcess []CryptoOp

	Profile     string // go tool pprof -top excerpt of sclogon's KDC under DH-2048 load
	ProfileLoad string // what load the profile was taken under
	// ProfileBefore is the same of the baseline revision's KDC, under the
	// same load in the same run; ProfileBeforeNote names the revision.
	ProfileBefore, ProfileBeforeNote string

	Client     []ClientRow
	ClientNote string

	Directory    []DirectoryRow
	MappingCache time.Duration // the [mapping] cache_ttl of the directory row with the cache
	Storm        *Storm
	DHTiming     *Timing
}

func (r *Report) op(name string) (float64, bool) {
	for _, o := range r.Crypto {
		if o.Name == name {
			return o.NsPerOp, true
		}
	}
	return 0, false
}

// LimitSum is the per-exchange sum of l's operations.
func (r *Report) LimitSum(l Limit) (time.Duration, bool) {
	var sum float64
	for _, name := range l.Ops {
		ns, ok := r.op(name)
		if !ok {
			return 0, false
		}
		sum += ns
	}
	return time.Duration(sum), true
}

// LimitRate is the exchanges per second all cores would do doing nothing
// but l's operations.
func (r *Report) LimitRate(l Limit) (float64, bool) {
	s, ok := r.LimitSum(l)
	if !ok || s <= 0 {
		return 0, false
	}
	return float64(r.Machine.Cores) / s.Seconds(), true
}

// Best is kdc's highest median rate for kx over the concurrencies, and its cell.
func (r *Report) Best(kdc, kx string) (Cell, bool) {
	var best Cell
	var found bool
	for _, c := range r.Cells {
		if c.KDC == kdc && c.KeyExchange == kx && (!found || c.Rate > best.Rate) {
			best, found = c, true
		}
	}
	return best, found
}

func (r *Report) limitFor(kx string) (Limit, bool) {
	for _, l := range r.Limits {
		if l.KeyExchange == kx {
			return l, true
		}
	}
	return Limit{}, false
}

// Median is the median of xs (the mean of the middle two for an even count).
func Median[T int | int64 | uint64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func rate(x float64) string {
	if x >= 100 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a/b) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Write renders r as Markdown.
func Write(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, section := range []func() string{
		r.headSection,      // the machine, the commands, how it is measured
		r.kdcTablesSection, // part 1: each key exchange's table
		r.peaksSection,
		r.perCoreSection,
		r.directorySection,
		r.keysSection,
		r.reuseSection,
		r.cryptoSection, // part 2: the crypto limit
		r.timingSection,
		r.clientSection,  // part 3: a card logon
		r.targetsSection, // the targets, and what bounds the KDC
	} {
		b.WriteString(section())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// text is a section being written.
type text struct{ strings.Builder }

func (t *text) p(format string, args ...any) { fmt.Fprintf(&t.Builder, format, args...) }

// headSection is the title, the machine, the commands and how it is measured.
func (r *Report) headSection() string {
	var t text
	p := t.p
	p("# Benchmarks\n\n")
	m := r.Machine
	p("Written by `make bench` (bench/cmd/benchreport) on %s. Every figure below is a median over %d runs of %s each (after a %s warm-up), measured on the machine described here; ", m.Date.UTC().Format("2006-01-02 15:04 UTC"), r.Runs, r.Duration, r.Warmup)
	p("the load generator runs on the same machine: in the two-core tables on the same cores as the KDC, in the per-core table on the other core, the KDC pinned to one. Run `make bench` again to reproduce them; numbers from a busy machine are lower and noisier than from a quiet one (load average when this run began: %s).\n\n", m.LoadAverage)

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| cores (nproc) | %d |\n| CPU | %s |\n| kernel | %s |\n| Go | %s |\n| MIT krb5 | %s |\n| OpenSC | %s |\n\n", m.Cores, m.CPU, m.Kernel, m.Go, m.MIT, m.OpenSC)

	p("## Commands\n\n```sh\n%s\n```\n\n", strings.Join(r.Commands, "\n"))

	p("## How it is measured\n\n")
	p("- **One exchange** is one PKINIT logon as every kinit makes it: an AS-REQ without pre-authentication, answered with PREAUTH_REQUIRED (and a freshness token), then the AS-REQ with PA-PK-AS-REQ signed with the user's %s key, and the AS-REP. The load generator (bench/kdcload, over kinit.Client) verifies every reply: the KDC's CMS signature and certificate, the key agreement, and the AS-REP enc-part decrypted with the PKINIT reply key; a failure counts as an error, never as an exchange. Each request has a fresh nonce and timestamp, so neither KDC's replay cache refuses it.\n", r.UserKey)
	p("- **Concurrency N** is N clients logging on back to back over TCP, spread over %d users (certificates with the MS UPN, the SID extension and an id-pkinit-san for the principal; MIT principals `+requires_preauth -nokey`).\n", r.Users)
	p("- **Both KDCs run out of process** on 127.0.0.1 with the same KDC certificate (a %s key) and the same CA (RSA-2048), and log every request (sclogon: its JSON audit log; MIT: its log file). CPU per exchange is the KDC's utime+stime (/proc/PID/stat, children included) over the counted window divided by the exchanges that ended in it; peak RSS is VmHWM at the end of the KDC's run (all concurrencies of that key exchange). The clients' CPU per exchange is the generator's own getrusage over the same window. The load column is the 1-minute load average before the first run of a row and after its last: other engineers' work on the machine shows there.\n", r.KDCKey)
	p("- **sclogon's KDC** ran with %s (RFC 4556 §3.2.3.1 lets a KDC reuse its DH key until dhKeyExpiration; the reply announces it). MIT krb5kdc 1.20 ran as it runs by default: one process (rows \"MIT -w N\" fork N workers). MIT 1.20 has no ECDH (it came in 1.22): its ECDH rows are n/a. RSA key transport encrypts the reply key to the user's key, so it is measured only with RSA users.\n\n", r.Sclogon)
	p("<details><summary>sclogon's KDC configuration</summary>\n\n```ini\n%s```\n\n</details>\n\n", r.Config)

	return t.String()
}

// kdcTablesSection is part 1: a table per key exchange.
func (r *Report) kdcTablesSection() string {
	var t text
	p := t.p
	p("## 1. KDC throughput, latency and cost\n\n")
	kxs := orderedKeyExchanges(r.Cells)
	for _, kx := range kxs {
		p("### %s (users' keys %s, KDC key %s)\n\n", kx, r.UserKey, r.KDCKey)
		p("| KDC | concurrency | exchanges/s | p50 | p99 | KDC CPU/exchange | clients' CPU/exchange | vs MIT (same concurrency) | errors | load |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, c := range r.Cells {
			if c.KeyExchange != kx {
				continue
			}
			vs := "–"
			if c.KDC != "MIT" {
				if mc, ok := r.cell("MIT", kx, c.Concurrency); ok {
					vs = ratio(c.Rate, mc.Rate)
				} else if kx != "DH-2048" {
					vs = "n/a"
				}
			}
			errs := fmt.Sprint(c.Errors)
			if c.Errors > 0 && c.FirstError != "" {
				errs += " (" + c.FirstError + ")"
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.KDC, c.Concurrency, rate(c.Rate), ms(c.P50), ms(c.P99), ms(c.KDCCPU), ms(c.LoadCPU), vs, errs, c.Load)
		}
		if !r.hasKDC("MIT", kx) {
			p("| MIT | – | n/a | | | | | | | |\n")
		}
		p("\n")
	}
	return t.String()
}

// peaksSection is each KDC's peak RSS.
func (r *Report) peaksSection() string {
	var t text
	p := t.p
	if len(r.Peaks) > 0 {
		p("### Peak RSS\n\n| KDC | key exchange | peak RSS (VmHWM) |\n|---|---|---:|\n")
		for _, pk := range r.Peaks {
			p("| %s | %s | %.1f MiB |\n", pk.KDC, pk.KeyExchange, float64(pk.RSS)/(1<<20))
		}
		p("\n")
	}
	return t.String()
}

// keysSection is DH-2048 with other key types.
func (r *Report) keysSection() string {
	var t text
	p := t.p
	if len(r.Keys) > 0 {
		p("### DH-2048 with other key types\n\nThe same load with the users' and the KDCs' keys of other types (each row's realm has its own certificates; both KDCs use the same ones).\n\n")
		p("| users' keys | KDC key | KDC | concurrency | exchanges/s | p50 | KDC CPU/exchange | clients' CPU/exchange | vs MIT | errors | load |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, c := range r.Keys {
			vs := "–"
			if c.KDC != "MIT" {
				for _, m := range r.Keys {
					if m.KDC == "MIT" && m.UserKey == c.UserKey && m.KDCKey == c.KDCKey && m.Concurrency == c.Concurrency {
						vs = ratio(c.Rate, m.Rate)
					}
				}
			}
			p("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n", c.UserKey, c.KDCKey, c.KDC, c.Concurrency, rate(c.Rate), ms(c.P50), ms(c.KDCCPU), ms(c.LoadCPU), vs, c.Errors, c.Load)
		}
		p("\n")
	}
	return t.String()
}

// reuseSection is DH-2048 with and without DH key reuse.
func (r *Report) reuseSection() string {
	var t text
	p := t.p
	if len(r.Reuse) > 0 {
		p("### sclogon: does DH key reuse matter?\n\n| dh_key_reuse | concurrency | exchanges/s | p50 | KDC CPU/exchange |\n|---|---:|---:|---:|---:|\n")
		for _, c := range r.Reuse {
			p("| %s | %d | %s | %s | %s |\n", c.KDC, c.Concurrency, rate(c.Rate), ms(c.P50), ms(c.KDCCPU))
		}
		p("\n")
	}

	return t.String()
}

// cryptoSection is part 2: the crypto benchmarks and the limit they set.
func (r *Report) cryptoSection() string {
	var t text
	p := t.p
	m := r.Machine
	p("## 2. The crypto limit\n\n")
	p("The KDC's mandatory operations per exchange, each timed alone on one core by the pkinit benchmarks (`go test -bench ./pkinit`, medians of the counts): the user's signature, the key agreement and the KDC's signature. The CA's signature on the user's certificate (RSA2048Verify) is verified once per certificate and `certificate_cache_ttl` (10 minutes by default), not per exchange, and is not counted. The limit is what all %d cores would do doing nothing but these; the KDC's throughput is its best rate over the concurrencies above.\n\n", m.Cores)
	p("| benchmark | ns/op |\n|---|---:|\n")
	for _, o := range r.Crypto {
		p("| %s | %.0f |\n", o.Name, o.NsPerOp)
	}
	p("\n| key exchange | operations | sum/exchange | limit (exchanges/s, %d cores) | sclogon KDC best | fraction of limit | sclogon KDC CPU/exchange at best | crypto share of it |\n|---|---|---:|---:|---:|---:|---:|---:|\n", m.Cores)
	for _, l := range r.Limits {
		sum, ok := r.LimitSum(l)
		if !ok {
			continue
		}
		lim, _ := r.LimitRate(l)
		best, ok := r.Best("sclogon", l.KeyExchange)
		frac, cpu, share := "–", "–", "–"
		if ok {
			frac = fmt.Sprintf("%.0f%%", 100*best.Rate/lim)
			cpu = ms(best.KDCCPU)
			if best.KDCCPU > 0 {
				share = fmt.Sprintf("%.0f%%", 100*float64(sum)/float64(best.KDCCPU))
			}
		}
		p("| %s (%s) | %s | %s | %s | %s | %s | %s | %s |\n", l.KeyExchange, l.Setting, strings.Join(l.Ops, " + "), ms(sum), rate(lim), rate(best.Rate), frac, cpu, share)
	}
	p("\n")
	return t.String()
}

// clientSection is part 3: one logon with a card.
func (r *Report) clientSection() string {
	var t text
	p := t.p
	p("## 3. Client: one logon with a card\n\n")
	p("%s\n\n", r.ClientNote)
	if len(r.Client) > 0 {
		p("| client | cache | runs | APDUs | wall time |\n|---|---|---:|---:|---:|\n")
		for _, c := range r.Client {
			if c.Note != "" {
				p("| %s | %s | – | – | %s |\n", c.Client, c.Cache, c.Note)
				continue
			}
			p("| %s | %s | %d | %d | %s |\n", c.Client, c.Cache, c.Runs, c.APDUs, ms(c.Wall))
		}
		p("\n")
	}

	return t.String()
}

// targetsSection is the targets, how to reproduce them and what bounds the KDC.
func (r *Report) targetsSection() string {
	var t text
	p := t.p
	p("## Targets\n\n")
	p("Each target's figure is reproduced by the command under it (part of `make bench`).\n\n")
	p("| target | measured | met |\n|---|---|---|\n")
	var missed []string
	target := func(name, measured string, met, known bool) {
		verdict := "yes"
		switch {
		case !known:
			verdict, measured = "not measured", "–"
		case !met:
			verdict = "**no**"
			missed = append(missed, name)
		}
		p("| %s | %s | %s |\n", name, measured, verdict)
	}
	r.kdcTargets(target)
	ourWarm, okWarm := r.clientRow("sclogon kinit", "warm")
	mitWarm, okMITWarm := r.clientRow("MIT kinit + OpenSC", "warm")
	target("warm client logon ≤ 6 APDUs", apduText(ourWarm, okWarm), okWarm && ourWarm.APDUs <= 6, okWarm)
	target("warm client logon ≤ ½ the APDUs of OpenSC + MIT kinit", fmt.Sprintf("%s vs %s", apduText(ourWarm, okWarm), apduText(mitWarm, okMITWarm)), okWarm && okMITWarm && 2*ourWarm.APDUs <= mitWarm.APDUs, okWarm && okMITWarm)
	p("\nTo reproduce:\n\n")
	for _, c := range reproduce {
		p("- %s: `%s`\n", c[0], c[1])
	}
	p("\n")
	if len(missed) > 0 || r.Profile != "" {
		p("### What bounds the KDC\n\n")
		if len(missed) > 0 {
			p("Missed here: %s.\n\n", strings.Join(missed, "; "))
		}
		p("%s", r.bounds())
		if r.Profile != "" {
			p("CPU profile of sclogon's KDC (%s); `sclogon kdc` has no profiling flag, so bench/cmd/kdcprofile runs the same kdc package with the same configuration file and a CPU profile:\n\n```\n%s```\n\n", r.ProfileLoad, r.Profile)
			if r.ProfileBefore != "" {
				p("Before: the same profile, in the same run under the same load, of the KDC at %s (math/big's exponentiation, encoding/json's audit line, gokrb5's reflection-based AS-REP encoder):\n\n```\n%s```\n\n", r.ProfileBeforeNote, r.ProfileBefore)
			}
		}
	}
	return t.String()
}

// bounds explains the measured rates from the CPU the KDC and the clients
// each spent per exchange: on a machine the clients share, every exchange
// costs both.
func (r *Report) bounds() string {
	var b strings.Builder
	for _, kx := range []string{"DH-2048", "ECDH P-256"} {
		best, ok := r.Best("sclogon", kx)
		if !ok || best.KDCCPU <= 0 {
			continue
		}
		both := best.KDCCPU + best.LoadCPU
		fmt.Fprintf(&b, "- %s at concurrency %d: the KDC spent %s of CPU per exchange and the clients %s, together %s; %d cores shared by both do at most %s exchanges/s (measured %s), and the KDC alone on all of them %s/s.",
			kx, best.Concurrency, ms(best.KDCCPU), ms(best.LoadCPU), ms(both), r.Machine.Cores,
			rate(float64(r.Machine.Cores)/both.Seconds()), rate(best.Rate), rate(float64(r.Machine.Cores)/best.KDCCPU.Seconds()))
		if l, ok := r.limitFor(kx); ok {
			if sum, ok := r.LimitSum(l); ok {
				fmt.Fprintf(&b, " The mandatory crypto is %s of the KDC's %s (%.0f%%); the rest is CMS/ASN.1 parsing, certificate path building, the PAC, ticket encryption, the audit log, TCP and the Go runtime (profile below).", ms(sum), ms(best.KDCCPU), 100*float64(sum)/float64(best.KDCCPU))
			}
		}
		b.WriteString("\n")
	}
	ours, ok1 := r.Best("sclogon", "DH-2048")
	mit, ok2 := r.Best("MIT", "DH-2048")
	if ok1 && ok2 && ours.KDCCPU > 0 && mit.KDCCPU > 0 {
		capOurs := float64(r.Machine.Cores) / ours.KDCCPU.Seconds()
		capMIT := 1 / mit.KDCCPU.Seconds() // one process, one core
		fmt.Fprintf(&b, "- Derived, not measured: with the clients elsewhere, sclogon's KDC on %d cores would do about %s DH-2048 exchanges/s (%s CPU each) and MIT's single process about %s/s on its one core (%s each): %s.\n",
			r.Machine.Cores, rate(capOurs), ms(ours.KDCCPU), rate(capMIT), ms(mit.KDCCPU), ratio(capOurs, capMIT))
	}
	if b.Len() > 0 {
		b.WriteString("\nWhat would move it: a load generator on other cores or another machine (the clients' share goes to the KDC: each client logon makes a DH-2048 key pair, the secret and the subgroup check of the KDC's value, a real client's work); a quiet machine (see the load column); and, in the KDC, the DH-2048 secret (bigmod's constant-time exponentiation with the KDC's 256-bit exponent, the largest item in the profile below and most of the floor), the client's signature check (P-256 here), the KDC's own signature on the reply, and the kernel's share of each exchange (the TCP accept, write and close and the UDP reply, which on loopback also run the clients' side of the protocol). What is left of the KDC's own code (decoding, mapping, the PAC, ticket encryption, the audit line) is a few percent each, and the Go runtime's allocation and garbage collection about a tenth (see the profile).\n\n")
	}
	return b.String()
}

func apduText(c ClientRow, ok bool) string {
	if !ok {
		return "not measured"
	}
	return fmt.Sprintf("%d APDUs", c.APDUs)
}

func (r *Report) clientRow(prefix, cache string) (ClientRow, bool) {
	for _, c := range r.Client {
		if strings.HasPrefix(c.Client, prefix) && c.Cache == cache && c.Note == "" {
			return c, true
		}
	}
	return ClientRow{}, false
}

func (r *Report) cell(kdc, kx string, conc int) (Cell, bool) {
	for _, c := range r.Cells {
		if c.KDC == kdc && c.KeyExchange == kx && c.Concurrency == conc {
			return c, true
		}
	}
	return Cell{}, false
}

func (r *Report) hasKDC(kdc, kx string) bool {
	_, ok := r.Best(kdc, kx)
	return ok
}

func orderedKeyExchanges(cells []Cell) []string {
	order := map[string]int{"DH-2048": 0, "ECDH P-256": 1, "RSA": 2}
	var kxs []string
	for _, c := range cells {
		if !slices.Contains(kxs, c.KeyExchange) {
			kxs = append(kxs, c.KeyExchange)
		}
	}
	sort.SliceStable(kxs, func(i, j int) bool { return order[kxs[i]] < order[kxs[j]] })
	return kxs
}
