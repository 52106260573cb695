package pki

import (
	"crypto/rand"
	"fmt"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// TestIndexSnapshot: the index is parsed once per change, and a revocation
// written by another opening of the directory (another process) is what the
// responder answers at its next request.
func TestIndexSnapshot(t *testing.T) {
	ca := newCA(t, false)
	up, _ := UserProfile(User{UPN: "s@example.com"})
	key, _ := GenerateKey(P256, rand.Reader)
	cert, err := ca.Issue(key.Public(), up)
	if err != nil {
		t.Fatal(err)
	}
	first, err := ca.index()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ca.index(); again != first {
		t.Fatal("an unchanged index was parsed again")
	}
	recs, _ := ca.Records()
	recs[0].Revoked = true // a caller's copy: the snapshot stays as read
	if r, _ := ca.Lookup(cert.SerialNumber); r.Revoked {
		t.Fatal("Records handed out the snapshot itself")
	}

	r, err := NewResponder(ca, ResponderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := func() int {
		t.Helper()
		req, err := ocsp.CreateRequest(cert, ca.Issuer(), nil)
		if err != nil {
			t.Fatal(err)
		}
		der, err := r.Respond(req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponseForCert(der, cert, ca.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	if got := status(); got != ocsp.Good {
		t.Fatalf("status %d before the revocation, want good", got)
	}
	other, err := Open(ca.Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Revoke(cert.SerialNumber, KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != ocsp.Revoked {
		t.Fatalf("status %d after another process revoked, want revoked", got)
	}
	if now, _ := ca.index(); now == first {
		t.Fatal("the changed index was not re-read")
	}
}

// BenchmarkRespondLargeIndex: one OCSP answer from a CA that issued 10,000
// certificates (the storm's realm), the index unchanged between requests.
func BenchmarkRespondLargeIndex(b *testing.B) {
	ca := newCA(b, false)
	up, _ := UserProfile(User{UPN: "s@example.com"})
	key, _ := GenerateKey(P256, rand.Reader)
	cert, err := ca.Issue(key.Public(), up)
	if err != nil {
		b.Fatal(err)
	}
	if err := ca.change(func(recs []Record) ([]Record, error) {
		for i := range 10000 {
			recs = append(recs, Record{Serial: fmt.Sprintf("%X", 0x100000+i), Kind: "user", Subject: "/CN=u", File: "issued/x.pem"})
		}
		return recs, nil
	}); err != nil {
		b.Fatal(err)
	}
	r, err := NewResponder(ca, ResponderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	req, err := ocsp.CreateRequest(cert, ca.Issuer(), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Respond(req); err != nil {
			b.Fatal(err)
		}
	}
}
