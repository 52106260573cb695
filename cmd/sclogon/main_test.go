package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

func TestHelpListsEveryCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"help"}); code != exitOK {
		t.Fatalf("help exited %d: %s", code, errOut.String())
	}
	for name := range commands {
		if !strings.Contains(out.String(), "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, out.String())
		}
		var h bytes.Buffer
		if code := run(context.Background(), stdio{out: &h, errOut: &errOut}, []string{"help", name}); code != exitOK || !strings.Contains(h.String(), "usage: sclogon "+name) {
			t.Errorf("help %s exited %d:\n%s", name, code, h.String())
		}
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"frobnicate"}); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errOut.String(), `no command "frobnicate"`) {
		t.Errorf("stderr = %q", errOut.String())
	}
	if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, nil); code != exitUsage {
		t.Fatalf("no arguments: exit %d, want %d", code, exitUsage)
	}
}

// TestEveryCommandHelpFlag: `sclogon CMD --help` (and -h, -help, after other
// flags too) prints the page `sclogon help CMD` prints, not Go's flag dump.
func TestEveryCommandHelpFlag(t *testing.T) {
	for name := range commands {
		var want, errOut bytes.Buffer
		run(context.Background(), stdio{out: &want, errOut: &errOut}, []string{"help", name})
		asks := [][]string{{"--help"}, {"-h"}, {"-help"}, {"--json", "--help"}}
		if commands[name].subHelp {
			asks = asks[:3] // 'pki enroll -h' is enroll's own page
		}
		for _, args := range asks {
			var out bytes.Buffer
			code := run(context.Background(), stdio{in: strings.NewReader(""), out: &out, errOut: &errOut}, append([]string{name}, args...))
			if code != exitOK || out.String() != want.String() {
				t.Errorf("sclogon %s %v: exit %d, output differs from 'sclogon help %s':\n%s", name, args, code, name, out.String())
			}
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), stdio{out: &out, errOut: &errOut}, []string{"--version"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "sclogon ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Fatalf("--version: %q", out.String())
	}
}
