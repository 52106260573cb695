// Command benchreport measures sclogon's KDC against MIT krb5kdc under
// PKINIT load, the crypto limit from the pkinit benchmarks, and a card
// logon's APDUs, and writes BENCHMARKS.md. `make bench` runs it:
//
//	go build -o bin/sclogon ./cmd/sclogon
//	go build -o bin/kdcprofile ./bench/cmd/kdcprofile
//	go run ./bench/cmd/benchreport -sclogon bin/sclogon -kdcprofile bin/kdcprofile -o BENCHMARKS.md
//
// It needs MIT krb5 (krb5-kdc krb5-admin-server krb5-pkinit krb5-user) and,
// for the client part, pcscd, vsmartcard-vpcd and opensc: integration/setup
// installs them.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sclogon/sclogon/bench/kdcload"
	"github.com/sclogon/sclogon/bench/logon"
	"github.com/sclogon/sclogon/bench/report"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/pkinit"
)

type options struct {
	sclogon, kdcprofile, out string
	runs, users, count       int
	duration, warmup, reuse  time.Duration
	concurrency              []int
	mitWorkers               int
	client                   bool
	keys                     kdcload.Keys   // the main tables'
	otherKeys                []kdcload.Keys // DH-2048 again with these
	kx                       []string       // key exchanges measured
	perCoreConcurrency       int            // clients of the per-core rows (0: no such rows)
	perCoreRuns              int            // rounds of the per-core rows, each row measured once per round
	stormUsers               int            // users of the storm (0: no directory and storm rows)
	mappingCache             time.Duration  // cache_ttl of the cached directory row
	profileOut               string         // where to keep the KDC's raw CPU profile ("": nowhere)
	kdcprofileBefore         string         // kdcprofile built from the baseline revision ("": no before profile)
	baselineNote             string         // what the baseline is, for the report
}

func main() {
	var o options
	var conc, userKey, kdcKey, otherKeys, kxs string
	flag.StringVar(&o.sclogon, "sclogon", "bin/sclogon", "the sclogon binary (make build)")
	flag.StringVar(&o.kdcprofile, "kdcprofile", "bin/kdcprofile", "bench/cmd/kdcprofile, built; empty: no profile")
	flag.StringVar(&o.out, "o", "BENCHMARKS.md", "the report to write")
	flag.IntVar(&o.runs, "runs", 3, "runs per measurement (medians are reported)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "counted time per run")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "uncounted time before each run")
	flag.StringVar(&conc, "concurrency", "1,2,8,32", "client counts")
	flag.IntVar(&o.users, "users", 32, "users (certificates and principals) the clients spread over")
	flag.IntVar(&o.count, "count", 5, "go test -count for the pkinit benchmarks")
	flag.DurationVar(&o.reuse, "dh-key-reuse", 10*time.Minute, "sclogon's dh_key_reuse for the main tables")
	flag.IntVar(&o.mitWorkers, "mit-workers", 2, "also measure DH-2048 with krb5kdc -w N (0: not)")
	flag.BoolVar(&o.client, "client", true, "measure the client logon with the software card under pcscd")
	flag.StringVar(&userKey, "user-key", "p256", "the users' key type (rsa2048, p256, ...) in the main tables")
	flag.StringVar(&kdcKey, "kdc-key", "p256", "the KDCs' key type in the main tables, the same for both KDCs")
	flag.StringVar(&otherKeys, "other-keys", "rsa2048/rsa2048,p256/rsa2048", "USER/KDC key types to measure DH-2048 with again, at the highest concurrency (empty: none)")
	flag.StringVar(&kxs, "kx", "DH-2048,ECDH P-256,RSA", "key exchanges to measure")
	flag.IntVar(&o.perCoreConcurrency, "per-core-concurrency", 8, "clients of the per-core rows, the KDC on CPU 0 and the clients on CPU 1 (0: no per-core rows)")
	flag.IntVar(&o.perCoreRuns, "per-core-runs", 5, "rounds of the per-core rows, each row measured once per round (medians are reported)")
	flag.IntVar(&o.stormUsers, "storm-users", 10000, "distinct users of the logon storm (0: no slapd, OCSP and storm rows)")
	flag.DurationVar(&o.mappingCache, "mapping-cache", time.Minute, "[mapping] cache_ttl of the directory row with the mapping cache (0: no such row)")
	flag.StringVar(&o.profileOut, "profile-out", "", "keep the KDC's raw CPU profile in this file")
	flag.StringVar(&o.kdcprofileBefore, "kdcprofile-before", "", "bench/cmd/kdcprofile built from the baseline revision, profiled the same way (empty: none)")
	flag.StringVar(&o.baselineNote, "baseline", "", "the baseline revision, named in the report")
	flag.Parse()
	var err error
	if o.keys.User, err = benchKeyType(userKey); err != nil {
		usage("-user-key: %v", err)
	}
	if o.keys.KDC, err = benchKeyType(kdcKey); err != nil {
		usage("-kdc-key: %v", err)
	}
	for _, f := range strings.Split(otherKeys, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		u, k, ok := strings.Cut(f, "/")
		var keys kdcload.Keys
		var err1, err2 error
		keys.User, err1 = benchKeyType(u)
		keys.KDC, err2 = benchKeyType(k)
		if !ok || err1 != nil || err2 != nil {
			usage("-other-keys %q: want USER/KDC key types, e.g. rsa2048/p256, separated by commas", otherKeys)
		}
		if keys != o.keys {
			o.otherKeys = append(o.otherKeys, keys)
		}
	}
	for _, f := range strings.Split(kxs, ",") {
		f = strings.TrimSpace(f)
		if !containsKX(keyExchanges, f) {
			usage("-kx %q: want some of DH-2048, ECDH P-256, RSA", kxs)
		}
		o.kx = append(o.kx, f)
	}
	for _, f := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			usage("-concurrency %q: want numbers ≥ 1 separated by commas", conc)
		}
		o.concurrency = append(o.concurrency, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: error: %v\n", err)
		os.Exit(1)
	}
}

// measureCell runs o.runs loads of conc clients with kx against p and
// reports their medians.
func measureCell(ctx context.Context, o options, realm *kdcload.Realm, pol kinit.Policy, p *kdcload.Process, label string, kx keyExchange, conc int) (report.Cell, error) {
	runs := newCellRuns(label, kx, conc)
	for range o.runs {
		if err := runs.measure(ctx, o, realm, pol, p); err != nil {
			return runs.cell, err
		}
	}
	return runs.finish(), nil
}

// cellRuns gathers the runs of one cell, which may be taken in turns with
// other cells' (see perCore), and reports their medians.
type cellRuns struct {
	cell            report.Cell
	kx              keyExchange
	rates           []float64
	p50, p99        []time.Duration
	kdcCPU, loadCPU []time.Duration
	loadBefore      string
	reuseKeys       bool // the clients reuse their key-agreement keys (kdcload.Load.ReuseClientKeys)
}

func newCellRuns(label string, kx keyExchange, conc int) *cellRuns {
	return &cellRuns{cell: report.Cell{KDC: label, KeyExchange: kx.name, Concurrency: conc}, kx: kx}
}

// measure runs one load against p and keeps its figures.
func (c *cellRuns) measure(ctx context.Context, o options, realm *kdcload.Realm, pol kinit.Policy, p *kdcload.Process) error {
	if c.cell.Runs == 0 {
		c.loadBefore = loadAverage1()
	}
	res, err := kdcload.Run(ctx, kdcload.Load{Addr: p.Addr, Users: realm.Users, KeyExchange: c.kx.kx, Concurrency: c.cell.Concurrency,
		Warmup: o.warmup, Duration: o.duration, Policy: pol, KDC: p, ReuseClientKeys: c.reuseKeys})
	if err != nil {
		return err
	}
	c.cell.Runs++
	c.rates = append(c.rates, res.PerSecond())
	c.p50 = append(c.p50, res.Percentile(50))
	c.p99 = append(c.p99, res.Percentile(99))
	c.kdcCPU = append(c.kdcCPU, res.KDCCPUPerExchange())
	c.loadCPU = append(c.loadCPU, res.LoadCPUPerExchange())
	c.cell.Errors += res.Errors
	if res.FirstErr != nil && c.cell.FirstError == "" {
		c.cell.FirstError = firstLine(res.FirstErr.Error())
	}
	logf("  %s %s c=%d run %d: %.1f/s p50 %v p99 %v KDC %v/exch, %d errors", c.cell.KDC, c.kx.name, c.cell.Concurrency, c.cell.Runs,
		res.PerSecond(), res.Percentile(50).Round(time.Microsecond), res.Percentile(99).Round(time.Microsecond), res.KDCCPUPerExchange().Round(time.Microsecond), res.Errors)
	return nil
}

// finish is the cell with the medians of its runs.
func (c *cellRuns) finish() report.Cell {
	cell := c.cell
	cell.Rate, cell.P50, cell.P99 = report.Median(c.rates), report.Median(c.p50), report.Median(c.p99)
	cell.KDCCPU, cell.LoadCPU = report.Median(c.kdcCPU), report.Median(c.loadCPU)
	cell.RunRates, cell.RunKDCCPU = c.rates, c.kdcCPU
	cell.Load = c.loadBefore + " → " + loadAverage1()
	return cell
}

func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: error: "+format+"\n", args...)
	os.Exit(2)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: "+format+"\n", args...)
}

type keyExchange struct {
	name string
	kx   kinit.KeyExchange
	mit  bool // MIT 1.20 speaks it
}

var keyExchanges = []keyExchange{
	{"DH-2048", kinit.KeyExchange{Group: pkinit.MODPGroup14}, true},
	{"ECDH P-256", kinit.KeyExchange{Curve: pkinit.CurveP256}, false},
	{"RSA", kinit.KeyExchange{RSA: true}, true},
}

// bench is one run of make bench: what the steps share, and the report
// they fill in.
type bench struct {
	ctx        context.Context
	o          options
	rep        *report.Report
	sclogonBin string
	dir        string // scratch, removed at the end
	realm      *kdcload.Realm
	pol        kinit.Policy
}

func run(ctx context.Context, o options) error {
	if err := checkBinaries(o); err != nil {
		return err
	}
	b := &bench{ctx: ctx, o: o, rep: newReport(o)}
	b.sclogonBin, _ = filepath.Abs(o.sclogon)
	// Part 2 first: the crypto benchmarks on an idle machine.
	if err := b.cryptoPart(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sclogon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b.dir = dir
	for _, step := range []func() error{
		b.setUpRealm,      // the realm and both KDCs' configuration
		b.kdcTables,       // part 1: each KDC, key exchange and concurrency
		b.perCoreRows,     // each KDC pinned to one core
		b.otherKeyRows,    // DH-2048 with other user and KDC key types
		b.reuseRows,       // with and without DH key reuse
		b.directoryRows,   // slapd with OCSP, and the storm
		b.profiles,        // the KDC's CPU profile, and the baseline's
		b.clientLogonRows, // part 3: a card logon's APDUs
	} {
		if err := step(); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, b.rep); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	logf("wrote %s", o.out)
	return nil
}

// checkBinaries: the binaries given exist, and MIT's KDC is installed.
func checkBinaries(o options) error {
	for _, b := range []string{o.sclogon, o.kdcprofile} {
		if b == "" {
			continue
		}
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (make bench builds it)", err)
		}
	}
	return kdcload.MITAvailable()
}

// newReport is the report's heading: the machine, the settings and the
// commands that reproduce it.
func newReport(o options) *report.Report {
	rep := &report.Report{
		Machine:  machine(),
		Runs:     o.runs,
		Duration: o.duration,
		Warmup:   o.warmup,
		Users:    o.users,
		Sclogon:  fmt.Sprintf("`dh_key_reuse = %s`", o.reuse),
		UserKey:  kdcload.KeyName(o.keys.User),
		KDCKey:   kdcload.KeyName(o.keys.KDC),
	}
	rep.Commands = []string{
		"make bench",
		"# which runs:",
		"go build -o bin/sclogon ./cmd/sclogon",
		"go build -o bin/kdcprofile ./bench/cmd/kdcprofile",
	}
	if o.kdcprofileBefore != "" {
		rep.Commands = append(rep.Commands, fmt.Sprintf("git archive %s | tar -x -C $BASELINE && (cd $BASELINE && go build -o $OLDPWD/%s ./bench/cmd/kdcprofile)", o.baselineNote, o.kdcprofileBefore))
	}
	rep.Commands = append(rep.Commands,
		"go run ./bench/cmd/benchreport "+strings.Join(os.Args[1:], " "),
		"# and benchreport runs:")
	rep.Limits = cryptoLimits(o)
	return rep
}

// cryptoPart runs the pkinit benchmarks, the in-process exchange and the
// DH timing test.
func (b *bench) cryptoPart() error {
	logf("pkinit benchmarks (-count %d)", b.o.count)
	crypto, cmdline, err := cryptoBenchmarks(b.ctx, b.o.count)
	if err != nil {
		return err
	}
	b.rep.Crypto = crypto
	b.rep.Commands = append(b.rep.Commands, cmdline)
	logf("the KDC's share of an exchange in the process (kdc BenchmarkASExchange, -count %d)", b.o.count)
	if b.rep.InProcess, cmdline, err = inProcessExchange(b.ctx, b.o.count); err != nil {
		return err
	}
	b.rep.Commands = append(b.rep.Commands, cmdline)
	logf("DH exponentiation timing by exponent weight")
	if b.rep.DHTiming, cmdline, err = dhTiming(b.ctx); err != nil {
		return err
	}
	b.rep.Commands = append(b.rep.Commands, cmdline)
	return nil
}

// cryptoLimits are the KDC's mandatory operations per exchange: it
// verifies the user's signature, agrees a key and signs. The CA's
// signature on the user's certificate (RSA2048Verify) is not among them:
// the KDC keeps each verified path for certificate_cache_ttl (default 10
// minutes, as in every row here), so over a row the users' 32 certificates
// cost 32 verifications, not one per exchange.
func cryptoLimits(o options) []report.Limit {
	userVerify, kdcSign := verifyOp(o.keys.User), signOp(o.keys.KDC)
	dhLimit := report.Limit{KeyExchange: "DH-2048", Setting: "reused DH key",
		Ops: []string{userVerify, "DH2048Secret", kdcSign}}
	if o.reuse == 0 {
		dhLimit.Setting = "fresh DH key"
		dhLimit.Ops = append(dhLimit.Ops, "DH2048KeyPair")
	}
	limits := []report.Limit{
		dhLimit,
		{KeyExchange: "ECDH P-256", Setting: "fresh ECDH key", Ops: []string{userVerify, "ECDHP256", kdcSign}},
	}
	if o.keys.KDC == pki.RSA2048 {
		// The benchmark signs with an RSA-2048 key.
		limits = append(limits, report.Limit{KeyExchange: "RSA", Setting: "key transport", Ops: []string{userVerify, "KeyTransportReplyBuild"}})
	}
	return limits
}

// setUpRealm makes the realm the KDC tables use and records sclogon's
// configuration for it.
func (b *bench) setUpRealm() error {
	logf("realm with %d users in %s", b.o.users, b.dir)
	var err error
	if b.realm, err = kdcload.NewRealm(b.dir, b.o.users, b.o.keys); err != nil {
		return err
	}
	if b.pol, err = b.realm.ClientPolicy(); err != nil {
		return err
	}
	confPath, _, err := kdcload.WriteSclogonConfig(b.realm, kdcload.SclogonOptions{DHKeyReuse: b.o.reuse})
	if err != nil {
		return err
	}
	conf, _ := os.ReadFile(confPath)
	b.rep.Config = strings.ReplaceAll(string(conf), b.dir, "$DIR")
	return nil
}

// measure is measureCell in this run.
func (b *bench) measure(realm *kdcload.Realm, pol kinit.Policy, p *kdcload.Process, label string, kx keyExchange, conc int) (report.Cell, error) {
	return measureCell(b.ctx, b.o, realm, pol, p, label, kx, conc)
}

// startSclogon starts sclogon's KDC on realm with dh_key_reuse = reuse.
func (b *bench) startSclogon(realm *kdcload.Realm, reuse time.Duration) (*kdcload.Process, error) {
	return kdcload.StartSclogonKDC(b.ctx, realm, kdcload.SclogonOptions{Command: []string{b.sclogonBin, "kdc"}, DHKeyReuse: reuse})
}

// kdcServer is a KDC the tables measure.
type kdcServer struct {
	label string
	kx    []keyExchange
	start func() (*kdcload.Process, error)
}

// servers are the KDCs of part 1: sclogon, MIT, and MIT with workers.
func (b *bench) servers() []kdcServer {
	servers := []kdcServer{
		{"sclogon", keyExchanges, func() (*kdcload.Process, error) { return b.startSclogon(b.realm, b.o.reuse) }},
		{"MIT", keyExchanges, func() (*kdcload.Process, error) { return kdcload.StartMITKDC(b.ctx, b.realm, kdcload.MITOptions{}) }},
	}
	if b.o.mitWorkers > 1 {
		servers = append(servers, kdcServer{fmt.Sprintf("MIT -w %d", b.o.mitWorkers), keyExchanges[:1], func() (*kdcload.Process, error) {
			return kdcload.StartMITKDC(b.ctx, b.realm, kdcload.MITOptions{Workers: b.o.mitWorkers})
		}})
	}
	return servers
}

// measuredExchanges are the key exchanges asked for; RSA key transport
// encrypts to the user's key, so it needs RSA users.
func (b *bench) measuredExchanges() []keyExchange {
	var kxs []keyExchange
	for _, kx := range keyExchanges {
		if !slices.Contains(b.o.kx, kx.name) {
			continue
		}
		if kx.kx.RSA && !isRSA(b.o.keys.User) {
			logf("skipping RSA key transport: the users' keys are %s", kdcload.KeyName(b.o.keys.User))
			continue
		}
		kxs = append(kxs, kx)
	}
	return kxs
}

// kdcTables is part 1: every KDC at every concurrency, and its peak RSS.
func (b *bench) kdcTables() error {
	for _, kx := range b.measuredExchanges() {
		for _, s := range b.servers() {
			if !containsKX(s.kx, kx.name) || strings.HasPrefix(s.label, "MIT") && !kx.mit {
				continue
			}
			logf("%s, %s", s.label, kx.name)
			if err := b.kdcRows(s, kx); err != nil {
				return err
			}
		}
	}
	return nil
}

// kdcRows measures one KDC and key exchange at each concurrency.
func (b *bench) kdcRows(s kdcServer, kx keyExchange) error {
	p, err := s.start()
	if err != nil {
		return err
	}
	defer p.Stop()
	for _, c := range b.o.concurrency {
		cell, err := b.measure(b.realm, b.pol, p, s.label, kx, c)
		if err != nil {
			return err
		}
		b.rep.Cells = append(b.rep.Cells, cell)
	}
	last, err := p.Usage()
	if err != nil {
		return err
	}
	b.rep.Peaks = append(b.rep.Peaks, report.Peak{KDC: s.label, KeyExchange: kx.name, RSS: last.PeakRSS})
	return nil
}

func (b *bench) perCoreRows() error {
	if b.o.perCoreConcurrency <= 0 {
		return nil
	}
	var err error
	b.rep.PerCore, err = perCore(b.ctx, b.o, b.realm, b.pol, b.sclogonBin)
	return err
}

// otherKeyRows: DH-2048 with other key types, at the highest concurrency,
// each pair of key types in a realm of its own.
func (b *bench) otherKeyRows() error {
	if len(b.o.otherKeys) == 0 || !slices.Contains(b.o.kx, "DH-2048") {
		return nil
	}
	conc := slices.Max(b.o.concurrency)
	for i, keys := range b.o.otherKeys {
		logf("DH-2048 with %s users and a %s KDC key", kdcload.KeyName(keys.User), kdcload.KeyName(keys.KDC))
		r2, err := kdcload.NewRealm(filepath.Join(b.dir, fmt.Sprintf("keys-%d", i)), b.o.users, keys)
		if err != nil {
			return err
		}
		pol2, err := r2.ClientPolicy()
		if err != nil {
			return err
		}
		starts := []kdcServer{
			{"sclogon", nil, func() (*kdcload.Process, error) { return b.startSclogon(r2, b.o.reuse) }},
			{"MIT", nil, func() (*kdcload.Process, error) { return kdcload.StartMITKDC(b.ctx, r2, kdcload.MITOptions{}) }},
		}
		for _, st := range starts {
			p, err := st.start()
			if err != nil {
				return err
			}
			cell, err := b.measure(r2, pol2, p, st.label, keyExchanges[0], conc)
			p.Stop()
			if err != nil {
				return err
			}
			cell.UserKey, cell.KDCKey = kdcload.KeyName(keys.User), kdcload.KeyName(keys.KDC)
			b.rep.Keys = append(b.rep.Keys, cell)
		}
	}
	return nil
}

// reuseRows: does DH key reuse matter? The same load with a fresh key per
// request.
func (b *bench) reuseRows() error {
	for _, reuse := range []time.Duration{0, b.o.reuse} {
		logf("sclogon DH-2048, dh_key_reuse = %s", reuse)
		p, err := b.startSclogon(b.realm, reuse)
		if err != nil {
			return err
		}
		for _, c := range []int{1, 8} {
			cell, err := b.measure(b.realm, b.pol, p, reuse.String(), keyExchanges[0], c)
			if err != nil {
				p.Stop()
				return err
			}
			b.rep.Reuse = append(b.rep.Reuse, cell)
		}
		p.Stop()
	}
	return nil
}

func (b *bench) directoryRows() error {
	if b.o.stormUsers <= 0 {
		return nil
	}
	logf("directory rows (LDIF, slapd with OCSP) and a storm of %d users", b.o.stormUsers)
	var cmdline string
	var err error
	if b.rep.Directory, b.rep.Storm, cmdline, err = kdcloadBenchmarks(b.ctx, b.o, b.sclogonBin); err != nil {
		return err
	}
	b.rep.MappingCache = b.o.mappingCache
	b.rep.Commands = append(b.rep.Commands, cmdline)
	return nil
}

// profiles: the KDC's CPU profile under DH-2048 load, and the baseline
// revision's under the same load.
func (b *bench) profiles() error {
	if b.o.kdcprofile == "" || !slices.Contains(b.o.kx, "DH-2048") {
		return nil
	}
	logf("CPU profile of the KDC under DH-2048 load, concurrency 8")
	prof, cmdline, err := profile(b.ctx, b.realm, b.pol, b.o, b.o.kdcprofile, b.o.profileOut)
	if err != nil {
		return err
	}
	rep := b.rep
	rep.Profile = prof
	rep.ProfileLoad = fmt.Sprintf("DH-2048, concurrency 8, %s, %s users, a %s KDC key, %s, the KDC on CPU %d and the clients, reusing their keys as in the per-core rows, on CPU %d", 2*b.o.duration, rep.UserKey, rep.KDCKey, rep.Sclogon, kdcCPU, loadCPU)
	rep.Commands = append(rep.Commands, cmdline)
	if b.o.kdcprofileBefore != "" {
		logf("the same profile of the baseline KDC, %s", b.o.kdcprofileBefore)
		if rep.ProfileBefore, _, err = profile(b.ctx, b.realm, b.pol, b.o, b.o.kdcprofileBefore, ""); err != nil {
			return err
		}
		rep.ProfileBeforeNote = b.o.baselineNote
	}
	return nil
}

// clientLogonRows is part 3: an RSA-2048 key on the card and an RSA-2048
// KDC key, whatever the KDC tables used (the card's APDUs do not depend on
// the KDC's key).
func (b *bench) clientLogonRows() error {
	cardRealm := b.realm
	cardKeys := kdcload.Keys{User: pki.RSA2048, KDC: pki.RSA2048}
	if b.o.client && b.o.keys != cardKeys {
		var err error
		if cardRealm, err = kdcload.NewRealm(filepath.Join(b.dir, "card-realm"), 1, cardKeys); err != nil {
			return err
		}
	}
	b.rep.ClientNote, b.rep.Client = clientLogons(b.ctx, b.dir, cardRealm, b.sclogonBin, b.o)
	return nil
}

// benchKeyType is rsa2048 or p256: the key types the pkinit benchmarks time.
func benchKeyType(s string) (pki.KeyType, error) {
	t, err := pki.ParseKeyType(s)
	if err == nil && t != pki.RSA2048 && t != pki.P256 {
		err = fmt.Errorf("%s: want rsa2048 or p256", s)
	}
	return t, err
}

func verifyOp(t pki.KeyType) string {
	if isRSA(t) {
		return "RSA2048Verify"
	}
	return "P256Verify"
}

func signOp(t pki.KeyType) string {
	if isRSA(t) {
		return "RSA2048Sign"
	}
	return "P256Sign"
}

func isRSA(t pki.KeyType) bool { return strings.HasPrefix(string(t), "rsa") }

// loadAverage1 is the 1-minute load average.
func loadAverage1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func containsKX(kxs []keyExchange, name string) bool {
	for _, k := range kxs {
		if k.name == name {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "|", "/")
}

// cryptoBenchmarks runs the pkinit benchmarks of the KDC's operations and
// returns each one's median ns/op.
func cryptoBenchmarks(ctx context.Context, count int) ([]report.CryptoOp, string, error) {
	const pattern = "^Benchmark(RSA2048Verify|RSA2048Sign|P256Verify|P256Sign|DH2048Validate|DH2048ValidateByExponent|DH2048KeyPair|DH2048KeyPairMathBig|DH2048Secret|DH2048SecretMathBig|ECDHP256|KeyTransportReplyBuild|KDCReplyBuild)$"
	args := []string{"test", "-run", "^$", "-bench", pattern, "-count", fmt.Sprint(count), "./pkinit"}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go test -bench ./pkinit: %w\n%s", err, out)
	}
	ops, err := parseBenchmarks(out)
	if err != nil {
		return nil, "", err
	}
	return ops, fmt.Sprintf("go test -run '^$' -bench '%s' -count %d ./pkinit", pattern, count), nil
}

// inProcessExchange runs kdc's BenchmarkASExchange on one core
// (GOMAXPROCS 1): the KDC's whole share of a logon, both AS-REQs, without
// the network, so that it can be set beside the per-core figures, which
// add the kernel's TCP and UDP work over loopback.
func inProcessExchange(ctx context.Context, count int) ([]report.CryptoOp, string, error) {
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkASExchange$", "-benchmem", "-cpu", "1", "-count", fmt.Sprint(count), "./kdc"}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go test -bench ./kdc: %w\n%s", err, out)
	}
	ops, err := parseBenchmarks(out)
	if err != nil {
		return nil, "", err
	}
	return ops, fmt.Sprintf("go test -run '^$' -bench '^BenchmarkASExchange$' -benchmem -cpu 1 -count %d ./kdc", count), nil
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// parseBenchmarks reads `go test -bench` output: the median ns/op of each
// benchmark, in the order they first appear.
func parseBenchmarks(out []byte) ([]report.CryptoOp, error) {
	var order []string
	samples := map[string][]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ns, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, fmt.Errorf("benchmark line %q: %w", line, err)
		}
		if _, ok := samples[m[1]]; !ok {
			order = append(order, m[1])
		}
		samples[m[1]] = append(samples[m[1]], ns)
	}
	if len(order) == 0 {
		return nil, errors.New("go test -bench printed no benchmark results")
	}
	var ops []report.CryptoOp
	for _, name := range order {
		ops = append(ops, report.CryptoOp{Name: name, NsPerOp: report.Median(samples[name])})
	}
	return ops, nil
}

// profile runs the KDC under bin (bench/cmd/kdcprofile) pinned to one CPU,
// the clients on the other, through a DH-2048 load at concurrency 8, and
// returns the top of `go tool pprof -top`, flat and cumulative; profileOut
// keeps the raw profile.
func profile(ctx context.Context, realm *kdcload.Realm, pol kinit.Policy, o options, bin, profileOut string) (string, string, error) {
	bin, _ = filepath.Abs(bin)
	protoPath := filepath.Join(realm.Dir, "kdc.pprof")
	restore, err := kdcload.PinSelf(loadCPU)
	if err != nil {
		return "", "", err
	}
	defer restore()
	p, err := kdcload.StartSclogonKDC(ctx, realm, kdcload.SclogonOptions{Command: []string{bin, "--cpuprofile", protoPath}, DHKeyReuse: o.reuse, CPUs: strconv.Itoa(kdcCPU)})
	if err != nil {
		return "", "", err
	}
	_, err = kdcload.Run(ctx, kdcload.Load{Addr: p.Addr, Users: realm.Users, KeyExchange: keyExchanges[0].kx, Concurrency: 8,
		Warmup: o.warmup, Duration: 2 * o.duration, Policy: pol, KDC: p, ReuseClientKeys: true})
	p.Stop()
	if err != nil {
		return "", "", err
	}
	if profileOut != "" {
		if b, err := os.ReadFile(protoPath); err == nil {
			_ = os.WriteFile(profileOut, b, 0o644)
		}
	}
	var out []byte
	for _, sort := range []string{"-flat", "-cum"} {
		args := []string{"tool", "pprof", "-top", sort, "-nodecount=35", bin, protoPath}
		top, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("go tool pprof: %w\n%s", err, top)
		}
		if sort == "-cum" {
			// The header again adds nothing: from the first row on.
			if i := bytes.Index(top, []byte("      flat  flat%")); i >= 0 {
				top = append([]byte("\nSorted by cumulative time:\n\n"), top[i:]...)
			}
		}
		out = append(out, top...)
	}
	return string(out), "bin/kdcprofile --cpuprofile kdc.pprof --config kdc.conf   # under the same DH-2048 load, concurrency 8\ngo tool pprof -top -flat -nodecount=35 bin/kdcprofile kdc.pprof; go tool pprof -top -cum -nodecount=35 bin/kdcprofile kdc.pprof", nil
}

// clientLogons measures part 3: MIT kinit through OpenSC on the software
// card under pcscd, cold and warm, and sclogon kinit with the card where it
// can.
func clientLogons(ctx context.Context, dir string, realm *kdcload.Realm, sclogonBin string, o options) (string, []report.ClientRow) {
	const setup = "One logon by a client process on the software PIV card (card/vcard, RSA-2048 key of user u00 in slot 9A) in pcscd's vpcd reader, against sclogon's KDC (RSA-2048 KDC key; DH-2048, the client's default). APDUs are the command APDUs the card answered (the card's counter); wall time is from starting the client to its exit, the PIN given on stdin. *Cold*: OpenSC's file cache (sclogon's certificate cache for the direct `sclogon kinit`) empty; *warm*: the cache filled by a logon before (`use_file_caching = public`). *sclogon kinit via OpenSC PKCS#11* is `sclogon kinit -X X509_user_identity=PKCS11:module_name=opensc-pkcs11.so`: sclogon's PKCS #11 path instead of its own PIV client."
	if !o.client {
		return setup + "\n\nNot measured in this run (-client=false).", nil
	}
	if err := logon.Available(); err != nil {
		return setup + "\n\nNot measured: " + err.Error(), nil
	}
	kdc, err := kdcload.StartSclogonKDC(ctx, realm, kdcload.SclogonOptions{Command: []string{sclogonBin, "kdc"}, DHKeyReuse: o.reuse})
	if err != nil {
		return setup + "\n\nNot measured: " + err.Error(), nil
	}
	defer kdc.Stop()
	logf("client logons: waiting for the machine's pcscd lock")
	b, err := logon.Start(ctx, filepath.Join(dir, "logon"), realm, kdc, realm.Users[0])
	if err != nil {
		return setup + "\n\nNot measured: " + err.Error(), nil
	}
	defer b.Stop()
	var rows []report.ClientRow
	// repeated measures o.runs logons of client and reports their medians.
	repeated := func(client, cache string, measure func(i int) (logon.Measurement, error)) {
		var apdus []uint64
		var walls []time.Duration
		for i := range o.runs {
			m, err := measure(i)
			if err != nil {
				rows = append(rows, report.ClientRow{Client: client, Cache: cache, Note: firstLine(err.Error())})
				return
			}
			logf("  %s, %s: %d APDUs, %v", client, cache, m.APDUs, m.Wall.Round(time.Millisecond))
			apdus = append(apdus, m.APDUs)
			walls = append(walls, m.Wall)
		}
		rows = append(rows, report.ClientRow{Client: client, Cache: cache, Runs: o.runs, APDUs: report.Median(apdus), Wall: report.Median(walls)})
	}
	// openSC measures a client through OpenSC cold (a fresh file cache per
	// run) and warm (a cache filled by a logon before).
	openSC := func(client, prefix string, run func(cacheDir string) (logon.Measurement, error)) {
		repeated(client, "cold", func(i int) (logon.Measurement, error) {
			return run(filepath.Join(dir, "logon", fmt.Sprintf("%s-cold-%d", prefix, i)))
		})
		warmDir := filepath.Join(dir, "logon", prefix+"-warm")
		if _, err := run(warmDir); err == nil { // fills the cache
			repeated(client, "warm", func(int) (logon.Measurement, error) { return run(warmDir) })
		}
	}
	openSC("MIT kinit + OpenSC PKCS#11", "opensc", func(cacheDir string) (logon.Measurement, error) {
		return b.MITKinitOpenSC(ctx, cacheDir)
	})
	for _, warm := range []bool{false, true} {
		cache := map[bool]string{false: "cold", true: "warm"}[warm]
		repeated("sclogon kinit", cache, func(int) (logon.Measurement, error) { return b.SclogonKinit(ctx, sclogonBin, warm) })
	}
	// After the direct rows: the targets find "sclogon kinit" by prefix.
	openSC("sclogon kinit via OpenSC PKCS#11", "sclogon-opensc", func(cacheDir string) (logon.Measurement, error) {
		return b.SclogonKinitOpenSC(ctx, sclogonBin, cacheDir)
	})
	return setup, rows
}

// machine describes this machine.
func machine() report.Machine {
	m := report.Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	m.MIT = packageVersion("krb5-kdc")
	m.OpenSC = packageVersion("opensc")
	return m
}

func packageVersion(pkg string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "unknown (" + pkg + " not installed?)"
	}
	return pkg + " " + string(out)
}
