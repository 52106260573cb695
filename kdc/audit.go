package kdc

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/sclogon/sclogon/krberror"
)

// AuditRecord is one line of the audit log: one AS or TGS attempt.
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
type Audit struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewAudit writes records to w (nil: nowhere).
func NewAudit(w io.Writer) *Audit {
	if w == nil {
		w = io.Discard
	}
	return &Audit{enc: json.NewEncoder(w)}
}

func (a *Audit) write(r *AuditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.enc.Encode(r)
}
