package main

import (
	"context"
	"strings"
	"testing"
)

// TestEnrollUsageErrors: flag mistakes are exit 2 with a sentence, before
// any card or CA is touched; -h prints the help, with the stdin order of
// the secrets.
func TestEnrollUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dir", "x"}, "give --upn and/or --principal"},
		{[]string{"--upn", "a@b", "--slot", "9b"}, `"9b" is no PIV key slot`},
		{[]string{"--upn", "a@b", "--key-type", "rsa1024"}, `key type "rsa1024"`},
		{[]string{"--upn", "a@b", "--sid", "S-1-x"}, "S-1-x"},
		{[]string{"--upn", "a@b", "--eku", "bogus"}, `unknown EKU "bogus"`},
		{[]string{"--upn", "a@b", "--management-key-algorithm", "des"}, "want 3des, aes128, aes192 or aes256"},
		{[]string{"--upn", "a@b", "--default-management-key", "--management-key-stdin"}, "give one of"},
		{[]string{"--upn", "a@b", "--management-key", "0102"}, "flag provided but not defined"},
		{[]string{"--upn", "a@b", "extra"}, `unexpected argument "extra"`},
	} {
		var out, errOut strings.Builder
		code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, append([]string{"pki", "enroll"}, tc.args...))
		if code != exitUsage || !strings.Contains(errOut.String(), tc.want) || !strings.Contains(errOut.String(), "sclogon pki enroll -h") {
			t.Errorf("%v: exit %d:\n%s", tc.args, code, errOut.String())
		}
	}
	var out, errOut strings.Builder
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, []string{"pki", "enroll", "-h"}); code != exitOK ||
		!strings.Contains(out.String(), "the management key first, then the PIN") {
		t.Errorf("pki enroll -h: exit %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, []string{"help", "pki"}); code != exitOK || !strings.Contains(out.String(), "enroll") {
		t.Errorf("help pki:\n%s", out.String())
	}
}
