package kdc

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sclogon/sclogon/krberror"
)

// auditRecords are records the hand-written encoder must write exactly as
// encoding/json does: every field empty and full, strings that need
// escaping, durations across the float formats.
func auditRecords() []AuditRecord {
	yes, no := true, false
	return []AuditRecord{
		{},
		{Time: time.Date(2026, 12, 1, 22, 3, 4, 5, time.UTC), Type: "AS", Client: "127.0.0.1:4242", Network: "tcp", Result: "ok", DurationMS: 1.25},
		{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Type: "TGS", Client: "[::1]:88", Network: "udp",
			Principal: "alice@EXAMPLE.COM", Service: "krbtgt/EXAMPLE.COM@EXAMPLE.COM", Subject: `CN=Alice "A" \ O'Brien,O=<Example> & Co`,
			Issuer: "CN=Test CA\u2028\u2029", Serial: "0a1b", SHA256: "ff00", Revocation: "unknown (soft-fail)", Mapping: "sid",
			Strong: &yes, Account: "alice", KeyExch: "dh-group14", Result: "KDC_ERR_CLIENT_REVOKED", Code: krberror.Code(18),
			Reason: "tab\there\nnew line\r\x00\x1f\x7f é 日本 \xff\xfe bad utf-8", DurationMS: 0.0000001},
		{Strong: &no, DurationMS: 1e21, Code: -1},
		{DurationMS: 123456.789, Reason: "\u00e9\U0001F600"},
		{DurationMS: -0.5e-7},
	}
}

func TestAuditMatchesEncodingJSON(t *testing.T) {
	for i, r := range auditRecords() {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(&r); err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}

func FuzzAuditMatchesEncodingJSON(f *testing.F) {
	f.Add("alice", "CN=x<y>&\"\\", 1.5)
	f.Add("\xff\u2028", "\x00", 1e-9)
	f.Fuzz(func(t *testing.T, a, b string, d float64) {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return
		}
		r := AuditRecord{Type: a, Principal: b, Subject: a + b, Reason: b, DurationMS: d}
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(&r); err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("got %s\nwant %s", got, want.Bytes())
		}
	})
}

// TestAuditWriteDoesNotAllocate: a record costs the KDC no allocation once
// the buffer has grown to a line's size.
func TestAuditWriteDoesNotAllocate(t *testing.T) {
	a := NewAudit(io.Discard)
	recs := auditRecords()
	r := &recs[2]
	a.write(r)
	if n := testing.AllocsPerRun(100, func() { a.write(r) }); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}

// writeCounter counts the writes it is given.
type writeCounter struct{ writes, bytes int }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	w.bytes += len(p)
	return len(p), nil
}

// TestAuditOneWritePerLine: each record reaches the log in one Write of
// the whole line, which to a file is one write system call, and writing
// to a file allocates nothing either.
func TestAuditOneWritePerLine(t *testing.T) {
	var w writeCounter
	a := NewAudit(&w)
	recs := auditRecords()
	for i := range recs {
		a.write(&recs[i])
		if w.writes != i+1 {
			t.Fatalf("record %d: %d writes in all, want one per record", i, w.writes)
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a = NewAudit(f)
	a.write(&recs[2])
	if n := testing.AllocsPerRun(100, func() { a.write(&recs[2]) }); n != 0 {
		t.Errorf("%v allocations per record written to a file", n)
	}
}
