package main

import (
	"bytes"
	"context"
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
