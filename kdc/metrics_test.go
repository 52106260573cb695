package kdc_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping/ldap"
	"github.com/sclogon/sclogon/pkinit"
)

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$`)
)

// parseMetrics reads the text exposition format strictly enough to catch a
// malformed line: every sample belongs to a family declared before it.
// It returns the samples as "name{labels}" → value.
func parseMetrics(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	declared := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := typeLine.FindStringSubmatch(line); m != nil {
			declared[m[1]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		family := m[1]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(family, suffix); ok && declared[base] {
				family = base
			}
		}
		if !declared[family] {
			t.Fatalf("sample %q before its # TYPE line", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		out[m[1]+m[2]] = v
	}
	return out
}

// scrape reads x's /metrics over HTTP.
func scrape(t *testing.T, x *reloading) map[string]float64 {
	t.Helper()
	hs := httptest.NewServer(x.r.HTTPHandler(x.srv))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %s, Content-Type %q", resp.Status, ct)
	}
	return parseMetrics(t, resp.Body)
}

// auditCounts counts the audit log's lines by key(record).
func auditCounts(t *testing.T, log string, key func(kdc.AuditRecord) string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var r kdc.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if k := key(r); k != "" {
			out[k]++
		}
	}
	return out
}

// family picks name's samples out of m.
func family(m map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") || k == name {
			out[k] = v
		}
	}
	return out
}

func sameCounts(t *testing.T, what string, metrics, audit map[string]float64) {
	t.Helper()
	if fmt.Sprint(metrics) != fmt.Sprint(audit) {
		t.Errorf("%s:\nmetrics %v\naudit   %v", what, metrics, audit)
	}
}

// metricsLoad sends a mix of logons and refusals: DH, ECDH and RSA logons,
// a disabled account, an untrusted CA, requests without pre-auth, service
// tickets and an unknown service, and a datagram of noise.
func metricsLoad(t *testing.T, x *reloading) {
	f := getFixture(t)
	alice := f.users["alice"]
	var tgt *asResult
	for _, r := range []asRequest{
		{user: alice}, {user: alice}, {user: alice, group: pkinit.MODPGroup16},
		{user: alice, curve: pkinit.CurveP256}, {user: alice, curve: pkinit.CurveP384}, {user: alice, rsa: true},
		{user: f.users["erin"], client: "erin"},
	} {
		tgt = r.build(t).asOK(t, x.addr)
	}
	for _, r := range []asRequest{{user: f.users["dave"], client: "dave"}, {user: f.users["dave"], client: "dave"}, {user: f.users["stranger"]}} {
		if send(t, x.addr, r.build(t).msg).err == nil {
			t.Fatalf("%s logged on", r.client)
		}
	}
	for range 2 {
		send(t, x.addr, noPreauthASReq(t))
	}
	conf := config.New()
	conf.LibDefaults.NoAddresses = true
	for _, svc := range []string{"ws1.example.com", "ws1.example.com", "nowhere.example.com"} {
		sname := types.PrincipalName{NameType: 3, NameString: []string{"host", svc}}
		req, err := messages.NewTGSReq(tgt.rep.CName, realm, conf, tgt.rep.Ticket, tgt.enc.Key, sname, false)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		send(t, x.addr, msg)
	}
	c, err := net.Dial("udp", x.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("noise"))
	// The noise is counted once the server has read it; a logon after it
	// over UDP would not prove that, so wait for the count, bounded.
	deadline := time.Now().Add(20 * time.Second)
	for x.srv.Stats().Unanswered == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsMatchAuditLog: after a mixed load, /metrics counts requests by
// type and result, latencies by type, key exchanges and mapping methods
// exactly as the audit log's lines do; the server's drops show too.
func TestMetricsMatchAuditLog(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	writeFile(t, path, reloadConfig)
	x := startReloading(t, path)
	metricsLoad(t, x)
	m := scrape(t, x)
	audit := x.audit.String()

	sameCounts(t, "requests by type and result", family(m, "sclogon_kdc_requests_total"),
		auditCounts(t, audit, func(r kdc.AuditRecord) string {
			return fmt.Sprintf("sclogon_kdc_requests_total{type=%q,result=%q}", r.Type, r.Result)
		}))
	sameCounts(t, "latency observations by type", family(m, "sclogon_kdc_request_duration_seconds_count"),
		auditCounts(t, audit, func(r kdc.AuditRecord) string {
			return fmt.Sprintf("sclogon_kdc_request_duration_seconds_count{type=%q}", r.Type)
		}))
	sameCounts(t, "key exchanges", family(m, "sclogon_kdc_key_exchanges_total"),
		auditCounts(t, audit, func(r kdc.AuditRecord) string {
			if r.KeyExch == "" {
				return ""
			}
			return fmt.Sprintf("sclogon_kdc_key_exchanges_total{kind=%q}", r.KeyExch)
		}))
	sameCounts(t, "mapping methods", family(m, "sclogon_kdc_mappings_total"),
		auditCounts(t, audit, func(r kdc.AuditRecord) string {
			if r.Mapping == "" {
				return ""
			}
			return fmt.Sprintf("sclogon_kdc_mappings_total{method=%q}", r.Mapping)
		}))

	// The load has each kind of line the comparison above is about.
	for _, want := range []string{
		`sclogon_kdc_requests_total{type="AS",result="ok"}`, `sclogon_kdc_requests_total{type="AS",result="KDC_ERR_PREAUTH_REQUIRED"}`,
		`sclogon_kdc_requests_total{type="TGS",result="ok"}`, `sclogon_kdc_requests_total{type="TGS",result="KDC_ERR_S_PRINCIPAL_UNKNOWN"}`,
		`sclogon_kdc_key_exchanges_total{kind="rsa"}`, `sclogon_kdc_key_exchanges_total{kind="ecdh-P-256"}`, `sclogon_kdc_key_exchanges_total{kind="dh-group16"}`,
		`sclogon_kdc_request_duration_seconds_bucket{type="AS",le="+Inf"}`,
	} {
		if m[want] == 0 {
			t.Errorf("no %s in /metrics", want)
		}
	}
	if got := m[`sclogon_kdc_dropped_total{reason="unanswered"}`]; got == 0 || got != float64(x.srv.Stats().Unanswered) {
		t.Errorf("unanswered drops %v, server says %d", got, x.srv.Stats().Unanswered)
	}
	if _, ok := m["sclogon_kdc_tcp_connections_open"]; !ok {
		t.Error("no open connections gauge")
	}
	// The load ran its requests on workers; they wait a while for more.
	if got := m["sclogon_kdc_workers"]; got < 1 || got > float64(x.srv.Stats().Workers+1) {
		t.Errorf("sclogon_kdc_workers %v, server says %d", got, x.srv.Stats().Workers)
	}
}

// TestHealthEndpoints: live answers; ready answers 200 over an LDIF
// directory and 503, with the reason, over an LDAP server that does not
// answer.
func TestHealthEndpoints(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	writeFile(t, path, reloadConfig)
	x := startReloading(t, path)
	get := func(x *reloading, p string) (int, string) {
		t.Helper()
		hs := httptest.NewServer(x.r.HTTPHandler(x.srv))
		defer hs.Close()
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(x, "/healthz/live"); code != 200 || body != "live\n" {
		t.Errorf("/healthz/live: %d %q", code, body)
	}
	if code, body := get(x, "/healthz/ready"); code != 200 || body != "ready\n" {
		t.Errorf("/healthz/ready over LDIF: %d %q", code, body)
	}
	if code, _ := get(x, "/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}

	down, err := ldap.New(ldap.Config{URL: fmt.Sprintf("ldap://127.0.0.1:%d/", harness.FreePort(t)), BaseDN: "dc=example,dc=com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.Directory = down
	fc := &kdc.FileConfig{Config: cfg}
	y := serveReloader(t, fc, func() (*kdc.FileConfig, error) { return fc, nil }, filepath.Join(t.TempDir(), "kdc.conf"))
	if code, body := get(y, "/healthz/ready"); code != 503 || !strings.Contains(body, "the directory does not answer") {
		t.Errorf("/healthz/ready over an LDAP server that is down: %d %q", code, body)
	}
}

// TestMetricsOCSP: OCSP checks by result, queries sent, their failures and
// the cache hits, counted exactly; a reload keeps the OCSP cache, so a
// logon answered from it goes through with the responder down, and its
// counters; a reload with new OCSP settings, which starts a new cache, adds
// to them.
func TestMetricsOCSP(t *testing.T) {
	f := getFixture(t)
	url, victim, stop := ocspFixture(t, f)
	fc := &kdc.FileConfig{Config: ocspConfig(f, t, kdc.OCSPHard, url)}
	x := serveReloader(t, fc, func() (*kdc.FileConfig, error) { return fc, nil }, filepath.Join(t.TempDir(), "kdc.conf"))
	alice := f.users["alice"]
	asRequest{user: alice}.build(t).asOK(t, x.addr)
	asRequest{user: alice}.build(t).asOK(t, x.addr)
	if _, err := f.ca.Revoke(victim.cert.SerialNumber, pki.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if send(t, x.addr, asRequest{user: victim}.build(t).msg).err == nil {
		t.Fatal("a revoked certificate logged on")
	}
	stop()
	if send(t, x.addr, asRequest{user: f.users["erin"], client: "erin"}.build(t).msg).err == nil {
		t.Fatal("a logon without an OCSP answer went through under hard-fail")
	}
	if err := x.r.Reload(); err != nil {
		t.Fatal(err)
	}
	asRequest{user: alice}.build(t).asOK(t, x.addr)

	// alice: a query, then the cache twice (once after the reload); the
	// victim: a query answered "revoked"; erin: a query that gets no answer.
	want := map[string]float64{
		`sclogon_kdc_ocsp_checks_total{result="good"}`:    3,
		`sclogon_kdc_ocsp_checks_total{result="revoked"}`: 1,
		`sclogon_kdc_ocsp_checks_total{result="unknown"}`: 1,
		`sclogon_kdc_ocsp_queries_total`:                  3,
		`sclogon_kdc_ocsp_query_failures_total`:           1,
		`sclogon_kdc_ocsp_cache_hits_total`:               2,
		`sclogon_kdc_ocsp_query_waits_total`:              0,
		`sclogon_kdc_ocsp_lookup_failures_total`:          1,
	}
	checkOCSPMetrics(t, "after the first reload", scrape(t, x), want)

	// New OCSP settings make a new, cold checker: alice's logon needs a
	// query, which the stopped responder does not answer.
	changed := ocspConfig(f, t, kdc.OCSPHard, url)
	changed.OCSPPolicy.Timeout = 3 * time.Second
	fc = &kdc.FileConfig{Config: changed}
	if err := x.r.Reload(); err != nil {
		t.Fatal(err)
	}
	if send(t, x.addr, asRequest{user: alice}.build(t).msg).err == nil {
		t.Fatal("a logon went through the new checker's empty cache with the responder down")
	}
	want[`sclogon_kdc_ocsp_checks_total{result="unknown"}`]++
	want[`sclogon_kdc_ocsp_queries_total`]++
	want[`sclogon_kdc_ocsp_query_failures_total`]++
	want[`sclogon_kdc_ocsp_lookup_failures_total`]++
	checkOCSPMetrics(t, "after a reload with new OCSP settings", scrape(t, x), want)

	// A checker replaced before any scrape saw it still counts: another
	// cold checker fails a lookup, and is itself replaced unscraped.
	for _, timeout := range []time.Duration{4 * time.Second, 5 * time.Second} {
		next := ocspConfig(f, t, kdc.OCSPHard, url)
		next.OCSPPolicy.Timeout = timeout
		fc = &kdc.FileConfig{Config: next}
		if err := x.r.Reload(); err != nil {
			t.Fatal(err)
		}
		if timeout == 4*time.Second && send(t, x.addr, asRequest{user: alice}.build(t).msg).err == nil {
			t.Fatal("a logon went through a cold checker with the responder down")
		}
	}
	want[`sclogon_kdc_ocsp_checks_total{result="unknown"}`]++
	want[`sclogon_kdc_ocsp_queries_total`]++
	want[`sclogon_kdc_ocsp_query_failures_total`]++
	want[`sclogon_kdc_ocsp_lookup_failures_total`]++
	checkOCSPMetrics(t, "after a checker was replaced unscraped", scrape(t, x), want)
}

func checkOCSPMetrics(t *testing.T, when string, m, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if v, ok := m[name]; !ok || v != w {
			t.Errorf("%s: %s = %v (present %v), want %v", when, name, v, ok, w)
		}
	}
}

// TestHealthListenSetting: http_listen is off unless set, and takes
// host:port only.
func TestHealthListenSetting(t *testing.T) {
	f := getFixture(t)
	dir := configDir(t, f)
	path := filepath.Join(dir, "kdc.conf")
	for _, c := range []struct{ line, want, err string }{
		{"", "", ""},
		{"    http_listen = 127.0.0.1:8088\n", "127.0.0.1:8088", ""},
		{"    http_listen = [::1]:9100\n", "[::1]:9100", ""},
		{"    http_listen = 8088\n", "", `kdc.http_listen: "8088" is not host:port`},
		{"    http_listen = a:1\n    http_listen = b:2\n", "", "kdc.http_listen: given 2 times"},
	} {
		writeFile(t, path, strings.Replace(reloadConfig, "[mapping]\n", c.line+"[mapping]\n", 1))
		fc, err := kdc.LoadConfig(path)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: %v, want an error naming %q", c.line, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.line, err)
		case c.err == "" && fc.HTTPListen != c.want:
			t.Errorf("%q: HTTPListen %q, want %q", c.line, fc.HTTPListen, c.want)
		}
	}
}
