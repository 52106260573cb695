package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sclogon/sclogon/bench/kdcload"
	"github.com/sclogon/sclogon/bench/report"
	"github.com/sclogon/sclogon/kinit"
)

// The CPUs of the per-core rows: the KDC on one, the clients on the other.
const (
	kdcCPU  = 0
	loadCPU = 1
)

// perCore measures each KDC pinned to CPU 0 (taskset) with the load
// generator pinned to CPU 1, so that MIT's one process and sclogon's KDC
// get the same CPU: sclogon and MIT with DH-2048, sclogon with ECDH P-256.
// The rows are measured in turns, a run of each per round, over
// o.perCoreRuns rounds: the ratios between them are the targets, and a
// machine whose speed drifts (other work on its host) then weighs on every
// row alike instead of on whichever ran during the slow spell.
func perCore(ctx context.Context, o options, realm *kdcload.Realm, pol kinit.Policy, sclogonBin string) ([]report.Cell, error) {
	if runtime.NumCPU() < 2 {
		return nil, fmt.Errorf("per-core rows need 2 CPUs, this machine has %d", runtime.NumCPU())
	}
	restore, err := kdcload.PinSelf(loadCPU)
	if err != nil {
		return nil, err
	}
	defer restore()
	cpus := strconv.Itoa(kdcCPU)
	sclogon, err := kdcload.StartSclogonKDC(ctx, realm, kdcload.SclogonOptions{Command: []string{sclogonBin, "kdc"}, DHKeyReuse: o.reuse, CPUs: cpus})
	if err != nil {
		return nil, err
	}
	defer sclogon.Stop()
	mit, err := kdcload.StartMITKDC(ctx, realm, kdcload.MITOptions{CPUs: cpus})
	if err != nil {
		return nil, err
	}
	defer mit.Stop()
	type row struct {
		runs *cellRuns
		kdc  *kdcload.Process
	}
	var rows []row
	for _, r := range []struct {
		label string
		kx    keyExchange
		kdc   *kdcload.Process
	}{{"sclogon", keyExchanges[0], sclogon}, {"MIT", keyExchanges[0], mit}, {"sclogon", keyExchanges[1], sclogon}} {
		if containsKXName(o.kx, r.kx.name) {
			runs := newCellRuns(r.label, r.kx, o.perCoreConcurrency)
			runs.reuseKeys = true // so that the clients' core does not bound the rate
			rows = append(rows, row{runs, r.kdc})
		}
	}
	logf("per core: %d rows in turns, %d rounds (KDCs on CPU %d, clients on CPU %d)", len(rows), o.perCoreRuns, kdcCPU, loadCPU)
	for range o.perCoreRuns {
		for _, r := range rows {
			if err := r.runs.measure(ctx, o, realm, pol, r.kdc); err != nil {
				return nil, err
			}
		}
	}
	var cells []report.Cell
	for _, r := range rows {
		cells = append(cells, r.runs.finish())
	}
	return cells, nil
}

func containsKXName(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// kdcloadBenchmarks runs bench/kdcload's BenchmarkDirectory (LDIF, then
// the harness's slapd with OCSP, warm) and BenchmarkStorm (o.stormUsers
// distinct users, cold OCSP cache, no DH key reuse).
func kdcloadBenchmarks(ctx context.Context, o options, sclogonBin string) ([]report.DirectoryRow, *report.Storm, string, error) {
	args := []string{"test", "-run", "^$", "-bench", "^Benchmark(Directory|Storm)$", "-benchtime", "1x", "-timeout", "60m", "./bench/kdcload",
		"-args", "-sclogon", sclogonBin, "-duration", o.duration.String(), "-concurrency", "8", "-users", strconv.Itoa(o.users),
		"-storm-users", strconv.Itoa(o.stormUsers), "-mapping-cache", o.mappingCache.String(), "-runs", strconv.Itoa(o.runs)}
	cmdline := "go " + strings.Join(args, " ")
	logf("%s", cmdline)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, cmdline, fmt.Errorf("go test -bench ./bench/kdcload: %w\n%s", err, out)
	}
	metrics := parseMetrics(out)
	var rows []report.DirectoryRow
	for _, name := range []string{"Directory/ldif", "Directory/slapd-ocsp", "Directory/slapd-ocsp-cache"} {
		m, ok := metrics[name]
		if !ok {
			continue
		}
		rows = append(rows, report.DirectoryRow{Name: strings.TrimPrefix(name, "Directory/"), Rate: m["exch/s"],
			P50: msDuration(m["p50-ms"]), P99: msDuration(m["p99-ms"]), KDCCPU: msDuration(m["kdc-cpu-ms/exch"]), Errors: int(m["errors"]),
			VsLDIF: m["vs-ldif"]})
	}
	m, ok := metrics["Storm"]
	if !ok {
		return rows, nil, cmdline, errors.New("BenchmarkStorm printed no result")
	}
	storm := &report.Storm{Users: o.stormUsers, Concurrency: 8, ServeAll: time.Duration(m["serve-all-s"] * float64(time.Second)),
		Served: int(m["served"]), Rate: m["exch/s"], P50: msDuration(m["p50-ms"]), P99: msDuration(m["p99-ms"]),
		KDCCPU: msDuration(m["kdc-cpu-ms/exch"]), Errors: int(m["errors"])}
	return rows, storm, cmdline, nil
}

// dhTiming runs the pkinit benchmark that times the DH exponentiation with
// heavy and light exponents and returns its Welch t statistics.
func dhTiming(ctx context.Context) (*report.Timing, string, error) {
	args := []string{"test", "-run", "^$", "-bench", "^BenchmarkDH2048SecretTiming$", "-benchtime", "1x", "-count", "3", "./pkinit"}
	out, err := exec.CommandContext(ctx, "go", args...).Output()
	if err != nil {
		return nil, "", fmt.Errorf("go test -bench DH2048SecretTiming: %w\n%s", err, out)
	}
	var tb, tm []float64
	for _, line := range strings.Split(string(out), "\n") {
		if m := parseMetricLine(line); m != nil {
			tb, tm = append(tb, m.metrics["|t|-bigmod"]), append(tm, m.metrics["|t|-math/big"])
		}
	}
	if len(tb) == 0 {
		return nil, "", errors.New("BenchmarkDH2048SecretTiming printed no result")
	}
	return &report.Timing{Samples: 1000, Runs: len(tb), Bigmod: tb, MathBig: tm}, "go " + strings.Join(args, " "), nil
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

var metricLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

type metricResult struct {
	name    string
	metrics map[string]float64
}

// parseMetricLine reads one `go test -bench` result line: its name and
// every "value unit" pair, ns/op and the benchmark's own metrics alike.
func parseMetricLine(line string) *metricResult {
	m := metricLine.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	f := strings.Fields(m[2])
	r := &metricResult{name: m[1], metrics: map[string]float64{}}
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil
		}
		r.metrics[f[i+1]] = v
	}
	return r
}

// parseMetrics is every result line of out by benchmark name (the last
// line of a name wins).
func parseMetrics(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := parseMetricLine(line); m != nil {
			res[m.name] = m.metrics
		}
	}
	return res
}
