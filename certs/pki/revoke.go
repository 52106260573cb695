package pki

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Reason is a CRLReason (RFC 5280 §5.3.1).
type Reason int

// The CRLReason values; 7 is not used.
const (
	Unspecified          Reason = 0
	KeyCompromise        Reason = 1
	CACompromise         Reason = 2
	AffiliationChanged   Reason = 3
	Superseded           Reason = 4
	CessationOfOperation Reason = 5
	CertificateHold      Reason = 6
	RemoveFromCRL        Reason = 8
	PrivilegeWithdrawn   Reason = 9
	AACompromise         Reason = 10
)

var reasonNames = map[Reason]string{
	Unspecified: "unspecified", KeyCompromise: "keyCompromise", CACompromise: "CACompromise",
	AffiliationChanged: "affiliationChanged", Superseded: "superseded",
	CessationOfOperation: "cessationOfOperation", CertificateHold: "certificateHold",
	RemoveFromCRL: "removeFromCRL", PrivilegeWithdrawn: "privilegeWithdrawn", AACompromise: "AACompromise",
}

// String returns the RFC 5280 name, as OpenSSL spells it.
func (r Reason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseReason accepts an RFC 5280 reason name (any case) or its number.
func ParseReason(s string) (Reason, error) {
	for r, n := range reasonNames {
		if strings.EqualFold(s, n) || s == fmt.Sprint(int(r)) {
			return r, nil
		}
	}
	names := make([]string, 0, len(reasonNames))
	for r := Reason(0); r <= AACompromise; r++ {
		if n, ok := reasonNames[r]; ok {
			names = append(names, n)
		}
	}
	return 0, fmt.Errorf("pki: unknown revocation reason %q (want one of %s)", s, strings.Join(names, ", "))
}

// Revoke marks serial revoked now with reason. Revoking twice is an error,
// so the first revocation time stands.
func (ca *CA) Revoke(serial *big.Int, reason Reason) (Record, error) {
	if _, ok := reasonNames[reason]; !ok || reason == RemoveFromCRL {
		return Record{}, fmt.Errorf("pki: %v is not a reason to revoke", reason)
	}
	want := serialHex(serial)
	var out Record
	err := ca.change(func(recs []Record) ([]Record, error) {
		for i := range recs {
			if recs[i].Serial != want {
				continue
			}
			if recs[i].Revoked {
				return nil, fmt.Errorf("pki: serial %s was already revoked at %s (%v)", want, recs[i].RevokedAt.Format(time.RFC3339), recs[i].Reason)
			}
			recs[i].Revoked = true
			recs[i].RevokedAt = ca.opts.now().UTC().Truncate(time.Second)
			recs[i].Reason = reason
			out = recs[i]
			return recs, nil
		}
		return nil, fmt.Errorf("%w: serial %s (see %s)", ErrNotFound, want, ca.path("index.json"))
	})
	return out, err
}

// CRL returns a DER CRL of the issuing CA, valid for validity.
func (ca *CA) CRL(validity time.Duration) ([]byte, error) {
	recs, err := ca.Records()
	if err != nil {
		return nil, err
	}
	now := ca.opts.now()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(now.Unix()),
		ThisUpdate: now,
		NextUpdate: now.Add(validity),
	}
	for _, r := range recs {
		if !r.Revoked {
			continue
		}
		n, err := ParseSerial(r.Serial)
		if err != nil {
			return nil, err
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: n, RevocationTime: r.RevokedAt, ReasonCode: int(r.Reason),
		})
	}
	der, err := x509.CreateRevocationList(ca.opts.rand(), tmpl, ca.issuer, ca.issuerKey)
	if err != nil {
		return nil, fmt.Errorf("pki: signing CRL: %w", err)
	}
	return der, nil
}

// opensslIndex renders recs in the format of OpenSSL's `ca` database
// (status, expiry, revocation[,reason], serial, file, subject), which
// `openssl ocsp -index` serves.
func opensslIndex(recs []Record) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		status, rev := "V", ""
		if r.Revoked {
			status = "R"
			rev = r.RevokedAt.UTC().Format("060102150405Z")
			if r.Reason != Unspecified && r.Reason <= RemoveFromCRL {
				rev += "," + r.Reason.String()
			}
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\tunknown\t%s\n", status, r.NotAfter.UTC().Format("060102150405Z"), rev, r.Serial, opensslDN(r.Subject))
	}
	return b.Bytes()
}

// opensslDN turns an RFC 4514 string ("CN=a,O=b") into OpenSSL's one-line
// form ("/O=b/CN=a"); the index needs it only for display.
func opensslDN(s string) string {
	if s == "" {
		return "/"
	}
	parts := strings.Split(s, ",")
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString("/" + strings.ReplaceAll(parts[i], "/", `\/`))
	}
	return b.String()
}
