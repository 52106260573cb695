package main

import (
	"slices"
	"testing"
	"time"

	"github.com/sclogon/sclogon/bench/kdcload"
	"github.com/sclogon/sclogon/certs/pki"
)

// The floors count what the KDC does per exchange: not the CA's signature
// on a certificate whose path it keeps (certificate_cache_ttl); the fresh
// DH key only when the KDC does not reuse one.
func TestCryptoLimits(t *testing.T) {
	for _, reuse := range []time.Duration{10 * time.Minute, 0} {
		o := options{keys: kdcload.Keys{User: pki.P256, KDC: pki.RSA2048}, reuse: reuse}
		limits := cryptoLimits(o)
		if len(limits) != 3 {
			t.Fatalf("%d limits, want DH, ECDH and RSA key transport", len(limits))
		}
		for _, l := range limits {
			if slices.Contains(l.Ops, "RSA2048Verify") {
				t.Errorf("%s counts the CA's signature the path cache saves: %v", l.KeyExchange, l.Ops)
			}
			if l.Ops[0] != verifyOp(pki.P256) {
				t.Errorf("%s does not start with the user's signature: %v", l.KeyExchange, l.Ops)
			}
		}
		if got := slices.Contains(limits[0].Ops, "DH2048KeyPair"); got != (reuse == 0) {
			t.Errorf("reuse %v: DH floor %v", reuse, limits[0].Ops)
		}
	}
}
