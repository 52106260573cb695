package offline

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseRecord: a record file, whatever it holds, is parsed or refused,
// never a panic; what parses names its certificate and an anchor.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"version":1,"user":"alice","certificate":"","chain":[],"anchors":[],"ocsp":"","ocsp_at":"2026-01-01T00:00:00Z","recorded":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1} {}`))
	f.Add([]byte(`{"version":2,"extra":true}`))
	if b, err := json.Marshal(recordJSON{Version: recordVersion, User: "bob", Certificate: []byte{0x30, 0x00}, OCSPAt: time.Unix(0, 0)}); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseRecord(b)
		if err == nil && (e.cert == nil || e.anchors == nil) {
			t.Fatalf("parsed a record without a certificate or anchors: %q", b)
		}
	})
}
