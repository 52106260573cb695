package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc/conform"
)

// TestConformHelp: 'sclogon help kdc conform' and 'sclogon kdc conform
// --help' print the conformance page, with examples; 'sclogon help kdc'
// points to it.
func TestConformHelp(t *testing.T) {
	var want, out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{out: &want, errOut: &errOut}, []string{"help", "kdc", "conform"}); code != exitOK {
		t.Fatalf("help kdc conform: exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(want.String(), "usage: sclogon kdc conform") || !strings.Contains(want.String(), "Examples:") {
		t.Fatalf("help kdc conform:\n%s", want.String())
	}
	for _, args := range [][]string{{"kdc", "conform", "--help"}, {"kdc", "conform", "--json", "-h"}} {
		out.Reset()
		if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, args); code != exitOK || out.String() != want.String() {
			t.Errorf("%v: exit %d, a different page:\n%s", args, code, out.String())
		}
	}
	out.Reset()
	run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"help", "kdc"})
	if !strings.Contains(out.String(), "sclogon help kdc conform") {
		t.Errorf("help kdc does not point to the conform page:\n%s", out.String())
	}
}

// TestConformList: --list names every fault.
func TestConformList(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"kdc", "conform", "--list"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, f := range conform.Faults() {
		if !strings.Contains(out.String(), f.Name+" ") {
			t.Errorf("--list lacks %s", f.Name)
		}
	}
}

// TestConformUnknownFault is a usage error naming the fault.
func TestConformUnknownFault(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"kdc", "conform", "--fault", "no-such", "--client", "true"})
	if code != exitUsage || !strings.Contains(errOut.String(), `no fault "no-such"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestConformClientThatCannotLogOn: a client that never asks reports a
// failed control and faults not run, not "refused everything", and exits 1.
func TestConformClientThatCannotLogOn(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), stdio{out: &out, errOut: &errOut},
		[]string{"kdc", "conform", "--dir", t.TempDir(), "--client", "echo no kerberos here >&2", "--fault", "kdc-signature", "--json"})
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s", code, exitFail, errOut.String())
	}
	var got struct {
		Results []conform.Result
		Summary conform.Summary
		Passed  bool
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.Passed || got.Summary.ControlOK || got.Summary.Refused != 0 || len(got.Results) != 2 {
		t.Fatalf("%+v", got)
	}
	if c := got.Results[0]; c.Observed != conform.NoRequest || c.ClientError != "no kerberos here" {
		t.Errorf("control: %+v", c)
	}
	if f := got.Results[1]; f.Observed != conform.NotApplicable || !strings.Contains(f.Note, "no client logged on") {
		t.Errorf("fault: %+v", f)
	}
}

// TestConformDrivesSclogonKinit runs the built sclogon kinit through the
// command: it logs on in the control, refuses the faults named, and the
// command exits 0 with the table on stdout.
func TestConformDrivesSclogonKinit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sclogon")
	harness.Run(t, exec.Command("go", "build", "-o", bin, "."))
	var out, errOut bytes.Buffer
	code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"kdc", "conform", "--dir", t.TempDir(),
		"--client", bin + " kinit alice", "--client", bin + " kinit --rsa-key-transport alice",
		"--fault", "kdc-signature", "--fault", "untrusted-ca", "--fault", "as-checksum-wrong"})
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"kdc-signature", "untrusted-ca", "as-checksum-wrong", "RSA key transport",
		"3 faults shown: 3 refused, 0 accepted"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}
