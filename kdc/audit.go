package kdc

import (
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sclogon/sclogon/krberror"
)

// AuditRecord is one line of the audit log: one AS or TGS attempt. The
// json tags are the line's names; [Audit] writes the same JSON that
// encoding/json would, without its reflection.
type AuditRecord struct {
	Time       time.Time     `json:"time"`
	Type       string        `json:"type"` // "AS" or "TGS"
	Client     string        `json:"client_addr"`
	Network    string        `json:"network"`
	Principal  string        `json:"principal,omitempty"` // as requested
	Service    string        `json:"service,omitempty"`
	Subject    string        `json:"cert_subject,omitempty"`
	Issuer     string        `json:"cert_issuer,omitempty"`
	Serial     string        `json:"cert_serial,omitempty"`
	SHA256     string        `json:"cert_sha256,omitempty"`
	Revocation string        `json:"revocation,omitempty"` // good, revoked, unknown (soft-fail), unchecked
	Mapping    string        `json:"mapping_method,omitempty"`
	Strong     *bool         `json:"mapping_strong,omitempty"`
	Account    string        `json:"account,omitempty"`
	KeyExch    string        `json:"key_exchange,omitempty"` // dh-2048, ecdh-p256, rsa
	Result     string        `json:"result"`                 // "ok" or the error name
	Code       krberror.Code `json:"code"`                   // 0, or the KRB-ERROR code sent
	Reason     string        `json:"reason,omitempty"`
	DurationMS float64       `json:"duration_ms"`
}

// Audit writes one JSON line per record; it is safe for concurrent use.
// Every record is written, on the KDC's hot path, into one buffer reused
// under the lock: no allocation per record or per field.
type Audit struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	// observe, when set, sees every record after it is written (the
	// Reloader's metrics count them).
	observe func(*AuditRecord)
}

// NewAudit writes records to w (nil: nowhere).
func NewAudit(w io.Writer) *Audit {
	if w == nil {
		w = io.Discard
	}
	return &Audit{w: w, buf: make([]byte, 0, 1024)}
}

func (a *Audit) write(r *AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.buf = r.appendJSON(a.buf[:0])
	_, _ = a.w.Write(a.buf)
	if a.observe != nil {
		a.observe(r)
	}
}

// appendJSON appends r as encoding/json's Encoder writes it: the fields in
// order, omitempty ones left out when empty, and a newline.
func (r *AuditRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "type", r.Type, false)
	b = appendField(b, "client_addr", r.Client, false)
	b = appendField(b, "network", r.Network, false)
	b = appendField(b, "principal", r.Principal, true)
	b = appendField(b, "service", r.Service, true)
	b = appendField(b, "cert_subject", r.Subject, true)
	b = appendField(b, "cert_issuer", r.Issuer, true)
	b = appendField(b, "cert_serial", r.Serial, true)
	b = appendField(b, "cert_sha256", r.SHA256, true)
	b = appendField(b, "revocation", r.Revocation, true)
	b = appendField(b, "mapping_method", r.Mapping, true)
	if r.Strong != nil {
		b = strconv.AppendBool(append(b, `,"mapping_strong":`...), *r.Strong)
	}
	b = appendField(b, "account", r.Account, true)
	b = appendField(b, "key_exchange", r.KeyExch, true)
	b = appendField(b, "result", r.Result, false)
	b = strconv.AppendInt(append(b, `,"code":`...), int64(r.Code), 10)
	b = appendField(b, "reason", r.Reason, true)
	b = appendJSONFloat(append(b, `,"duration_ms":`...), r.DurationMS)
	return append(b, "}\n"...)
}

func appendField(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does by default: control
// characters, the quote and the backslash escaped, <, > and & as \u00XX
// (HTML-safe), U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat formats f as encoding/json does: the shortest decimal
// that reads back, in exponent form only below 1e-6 or from 1e21 on.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0') // encoding/json refuses these; a duration is never one
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
