package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// TestExplainKDCError: every KRB-ERROR reaches the person with the code's
// name and number, what it means, and what to change — also the codes a KDC
// answers a key exchange it lacks with (Samba 4.17: KRB_AP_ERR_BAD_INTEGRITY
// to DH-4096 and ECDH).
func TestExplainKDCError(t *testing.T) {
	dh4096 := kinit.KeyExchange{Group: pkinit.MODPGroup16}
	ecdh := kinit.KeyExchange{Curve: pkinit.CurveP256}
	dh2048 := kinit.KeyExchange{Group: pkinit.MODPGroup14}
	for _, tc := range []struct {
		name      string
		err       *kinit.KDCError
		msg, hint []string
	}{
		{"samba-dh4096", &kinit.KDCError{Code: krberror.APBadIntegrity, KeyExchange: &dh4096},
			[]string{"KRB_AP_ERR_BAD_INTEGRITY (31)", "integrity check", "DH-4096"}, []string{"--dh 2048", "Samba 4.17"}},
		{"samba-ecdh", &kinit.KDCError{Code: krberror.APBadIntegrity, KeyExchange: &ecdh},
			[]string{"KRB_AP_ERR_BAD_INTEGRITY (31)", "ECDH P-256"}, []string{"--dh 2048"}},
		{"unknown-code", &kinit.KDCError{Code: 4242, KeyExchange: &dh2048},
			[]string{"error 4242"}, []string{"the KDC's log"}},
		{"dh-refused-4096", &kinit.KDCError{Code: krberror.DHKeyParametersNotAccepted, KeyExchange: &dh4096, Text: "this KDC accepts MODP group 14 (2048 bits)"},
			[]string{"refused the key exchange to DH-4096", "MODP group 14"}, []string{"--dh 2048"}},
		{"dh-refused-2048", &kinit.KDCError{Code: krberror.DHKeyParametersNotAccepted, KeyExchange: &dh2048},
			[]string{"refused the key exchange to DH-2048"}, []string{"--dh 4096"}},
		{"generic-no-pkinit", &kinit.KDCError{Code: krberror.Generic, Text: "boom"},
			[]string{"KRB_ERR_GENERIC (60)", "boom"}, []string{"the KDC's log"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, hint := explainKDCError(tc.err)
			for _, w := range tc.msg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, w := range tc.hint {
				if !strings.Contains(hint, w) {
					t.Errorf("hint %q lacks %q", hint, w)
				}
			}
		})
	}
}

// TestExplainSHA1: a KDC reply signed with SHA-1 names the switch.
func TestExplainSHA1(t *testing.T) {
	err := fmt.Errorf("kinit: verify the KDC's reply: %w", pkinit.ErrSHA1Signature)
	msg, hint := explainKinit(err)
	if !strings.Contains(msg, "SHA-1") || !strings.Contains(hint, "pkinit_allow_sha1 = true") || !strings.Contains(hint, "--allow-sha1") {
		t.Errorf("message %q, hint %q", msg, hint)
	}
}
