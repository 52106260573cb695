package kdc

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sclogon/sclogon/certs/revocation"
)

// Metrics counts what the audit log records, request by request, what
// the OCSP client sent, and how often a client certificate's path came
// from the KDC's cache; [Metrics.WriteText] writes them, with a [Server]'s
// counts and a [Reloader]'s, in the Prometheus text exposition format
// (version 0.0.4). The counts come from the same records as the audit log's
// lines, at the same moment, so the two agree.
type Metrics struct {
	mu         sync.Mutex
	requests   map[[2]string]uint64 // type, result
	latency    map[string]*histogram
	keyExch    map[string]uint64
	mapping    map[string]uint64
	revocation map[string]uint64 // the audit record's revocation field

	ocspQueries, ocspQueryFailures atomic.Uint64
	// The client certificate path cache's answers (certPathCache), counted
	// by every KDC a Reloader makes.
	certPathHits, certPathMisses atomic.Uint64

	// The OCSP checkers' counts (see ocspStats): ocspRetiring are checkers
	// a reload replaced whose requests may still be running, ocspBase sums
	// the final counts of those whose requests have all ended.
	ocspMu       sync.Mutex
	ocspRetiring map[*revocation.Checker]struct{}
	ocspBase     revocation.Stats
}

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram: a PKINIT logon with RSA-2048 takes a few milliseconds, with
// DH group 18 or an OCSP round trip tens to hundreds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(latencyBuckets, v)
	h.counts[i]++
	h.sum += v
	h.n++
}

// NewMetrics returns empty counters.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{},
		keyExch: map[string]uint64{}, mapping: map[string]uint64{}, revocation: map[string]uint64{}}
}

// observe counts one audit record.
func (m *Metrics) observe(r *AuditRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{r.Type, r.Result}]++
	h := m.latency[r.Type]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[r.Type] = h
	}
	h.observe(r.DurationMS / 1000)
	if r.KeyExch != "" {
		m.keyExch[r.KeyExch]++
	}
	if r.Mapping != "" {
		m.mapping[r.Mapping]++
	}
	if r.Revocation != "" && r.Revocation != "unchecked" {
		m.revocation[r.Revocation]++
	}
}

// ocspDoer counts the queries the OCSP client sends and those that get no
// answer (a transport error or an HTTP status other than 200).
type ocspDoer struct {
	next revocation.Doer
	m    *Metrics
}

func (d ocspDoer) Do(req *http.Request) (*http.Response, error) {
	d.m.ocspQueries.Add(1)
	resp, err := d.next.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		d.m.ocspQueryFailures.Add(1)
	}
	return resp, err
}

// expo writes the text exposition format into memory: the counters are
// read under their lock, which a slow reader must not hold.
type expo struct {
	w bytes.Buffer
}

func (e *expo) family(name, typ, help string) {
	e.printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (e *expo) sample(name string, v float64, labels ...string) {
	e.printf("%s%s %s\n", name, labelSet(labels), strconv.FormatFloat(v, 'g', -1, 64))
}

func (e *expo) printf(format string, args ...any) {
	fmt.Fprintf(&e.w, format, args...)
}

// labelSet renders name, value pairs as {name="value",...}, escaping values
// as the format asks (backslash, double quote, newline).
func labelSet(kv []string) string {
	if len(kv) == 0 {
		return ""
	}
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, kv[i], esc.Replace(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

// counterMap writes one sample per key of m, sorted, labelled label=key.
func (e *expo) counterMap(name, help, label string, m map[string]uint64) {
	e.family(name, "counter", help)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.sample(name, float64(m[k]), label, k)
	}
}

// WriteText writes the request counters, then srv's and r's when not nil.
func (m *Metrics) WriteText(w io.Writer, srv *Server, r *Reloader) error {
	e := &expo{}
	m.writeRequests(e)
	m.writeOCSP(e, r)
	m.writeCertPaths(e)
	if srv != nil {
		writeServer(e, srv)
	}
	if r != nil {
		e.family("sclogon_kdc_reloads_total", "counter", "Configuration reloads (SIGHUP), by result: ok, or failed (the configuration loaded before kept serving).")
		e.sample("sclogon_kdc_reloads_total", float64(r.reloadsOK.Load()), "result", "ok")
		e.sample("sclogon_kdc_reloads_total", float64(r.reloadsFailed.Load()), "result", "failed")
	}
	_, err := e.w.WriteTo(w)
	return err
}

func (m *Metrics) writeRequests(e *expo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.family("sclogon_kdc_requests_total", "counter", "AS and TGS requests answered, by type and result (ok, or the KRB-ERROR's name), one per audit log line.")
	keys := slices.SortedFunc(maps.Keys(m.requests), func(a, b [2]string) int {
		return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1])
	})
	for _, k := range keys {
		e.sample("sclogon_kdc_requests_total", float64(m.requests[k]), "type", k[0], "result", k[1])
	}
	const lat = "sclogon_kdc_request_duration_seconds"
	e.family(lat, "histogram", "Time from a request's arrival to its answer, by type.")
	for _, typ := range slices.Sorted(maps.Keys(m.latency)) {
		h := m.latency[typ]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			e.sample(lat+"_bucket", float64(cum), "type", typ, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		e.sample(lat+"_bucket", float64(h.n), "type", typ, "le", "+Inf")
		e.sample(lat+"_sum", h.sum, "type", typ)
		e.sample(lat+"_count", float64(h.n), "type", typ)
	}
	e.counterMap("sclogon_kdc_key_exchanges_total", "AS replies by key exchange: dh-groupN, ecdh-CURVE, rsa (key transport).", "kind", m.keyExch)
	e.counterMap("sclogon_kdc_mappings_total", "Certificates mapped to an account, by the method that matched.", "method", m.mapping)
	e.counterMap("sclogon_kdc_ocsp_checks_total", "Client certificate revocation checks, by the status decided.", "result", m.revocation)
}

// writeOCSP writes what the OCSP client sent, and, with r, what its
// checker answered from the cache and from queries in flight.
func (m *Metrics) writeOCSP(e *expo, r *Reloader) {
	e.family("sclogon_kdc_ocsp_queries_total", "counter", "OCSP queries sent to a responder over HTTP (checks the cache did not answer).")
	e.sample("sclogon_kdc_ocsp_queries_total", float64(m.ocspQueries.Load()))
	e.family("sclogon_kdc_ocsp_query_failures_total", "counter", "OCSP queries that got no answer: a network error or an HTTP status other than 200.")
	e.sample("sclogon_kdc_ocsp_query_failures_total", float64(m.ocspQueryFailures.Load()))
	if r == nil {
		return
	}
	st := m.ocspStats(r.KDC().ocsp)
	e.family("sclogon_kdc_ocsp_cache_hits_total", "counter", "Revocation checks answered from the OCSP cache or the certificates remembered as revoked, without a query.")
	e.sample("sclogon_kdc_ocsp_cache_hits_total", float64(st.CacheHits))
	e.family("sclogon_kdc_ocsp_query_waits_total", "counter", "Revocation checks answered by a query another check of the same certificate had in flight.")
	e.sample("sclogon_kdc_ocsp_query_waits_total", float64(st.Waits))
	e.family("sclogon_kdc_ocsp_lookup_failures_total", "counter", "OCSP lookups that ended without a verified answer: no responder URL, no answer, or an answer refused (malformed, badly signed, stale, wrong nonce, a responder error status).")
	e.sample("sclogon_kdc_ocsp_lookup_failures_total", float64(st.QueryFailures))
}

// writeCertPaths writes the client certificate path cache's hits and
// misses.
func (m *Metrics) writeCertPaths(e *expo) {
	e.family("sclogon_kdc_certificate_cache_hits_total", "counter", "Client certificates whose path to an anchor was taken from the cache, not built and verified again (validity, NTAuth and EKU are checked all the same).")
	e.sample("sclogon_kdc_certificate_cache_hits_total", float64(m.certPathHits.Load()))
	e.family("sclogon_kdc_certificate_cache_misses_total", "counter", "Client certificates whose path was built and verified: not in the cache, its entry expired, or no cached path valid now.")
	e.sample("sclogon_kdc_certificate_cache_misses_total", float64(m.certPathMisses.Load()))
}

// ocspStats returns the counts of cur, the current KDC's OCSP checker (nil
// with OCSP off), added to those of every checker a reload replaced (new
// OCSP settings make a new checker): those still draining are read live,
// those drained by their final counts. Every checker's counts only grow, and
// a checker moves from retiring to the base only with its final counts, so
// the sums never go down.
func (m *Metrics) ocspStats(cur *revocation.Checker) revocation.Stats {
	m.ocspMu.Lock()
	defer m.ocspMu.Unlock()
	sum := m.ocspBase
	for c := range m.ocspRetiring {
		if c != cur {
			sum = addStats(sum, c.Stats())
		}
	}
	if cur != nil {
		sum = addStats(sum, cur.Stats())
	}
	return sum
}

// replacingChecker is told of a checker a reload has just replaced; its
// requests in flight still count.
func (m *Metrics) replacingChecker(c *revocation.Checker) {
	m.ocspMu.Lock()
	defer m.ocspMu.Unlock()
	if m.ocspRetiring == nil {
		m.ocspRetiring = map[*revocation.Checker]struct{}{}
	}
	m.ocspRetiring[c] = struct{}{}
}

// retiredChecker is told when the last request that could use a replaced
// checker has ended: its counts are final.
func (m *Metrics) retiredChecker(c *revocation.Checker) {
	m.ocspMu.Lock()
	defer m.ocspMu.Unlock()
	if _, ok := m.ocspRetiring[c]; !ok {
		return
	}
	delete(m.ocspRetiring, c)
	m.ocspBase = addStats(m.ocspBase, c.Stats())
}

func addStats(a, b revocation.Stats) revocation.Stats {
	return revocation.Stats{CacheHits: a.CacheHits + b.CacheHits, Waits: a.Waits + b.Waits,
		Queries: a.Queries + b.Queries, QueryFailures: a.QueryFailures + b.QueryFailures}
}

// writeServer writes what the server dropped, limited and holds open.
func writeServer(e *expo, srv *Server) {
	st := srv.Stats()
	e.family("sclogon_kdc_dropped_total", "counter", "Messages dropped unanswered, by reason: unanswered (not a KDC-REQ, or empty), spoofed_source (from the KDC's own address), oversize.")
	e.sample("sclogon_kdc_dropped_total", float64(st.Unanswered), "reason", "unanswered")
	e.sample("sclogon_kdc_dropped_total", float64(st.SpoofedSource), "reason", "spoofed_source")
	e.sample("sclogon_kdc_dropped_total", float64(st.Oversize), "reason", "oversize")
	e.family("sclogon_kdc_rate_limited_total", "counter", "What a source's rate limit held back: udp_errors (KRB-ERRORs not sent over UDP), log_lines.")
	e.sample("sclogon_kdc_rate_limited_total", float64(st.ErrorsLimited), "what", "udp_errors")
	e.sample("sclogon_kdc_rate_limited_total", float64(st.LogsLimited), "what", "log_lines")
	e.family("sclogon_kdc_tcp_connections_closed_total", "counter", "TCP connections the server closed itself, by reason: refused_full, refused_source, evicted (idle, for a new one), idle_timeout, header_timeout.")
	for _, c := range []struct {
		reason string
		n      uint64
	}{{"refused_full", st.TCPRefused}, {"refused_source", st.TCPRefusedSource}, {"evicted", st.TCPEvicted},
		{"idle_timeout", st.TCPIdleTimeouts}, {"header_timeout", st.TCPHeaderTimeouts}} {
		e.sample("sclogon_kdc_tcp_connections_closed_total", float64(c.n), "reason", c.reason)
	}
	e.family("sclogon_kdc_tcp_connections_open", "gauge", "TCP connections open now.")
	e.sample("sclogon_kdc_tcp_connections_open", float64(st.TCPOpen))
	e.family("sclogon_kdc_requests_in_flight", "gauge", "Requests being handled now.")
	e.sample("sclogon_kdc_requests_in_flight", float64(st.InFlight))
	e.family("sclogon_kdc_workers", "gauge", "Worker goroutines handling requests, busy or waiting for one (idle ones end).")
	e.sample("sclogon_kdc_workers", float64(st.Workers))
}
