package krberror

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestNamesMatchTheRFCs checks every code the RFCs list against its name
// here, and that this package names no code the list lacks.
func TestNamesMatchTheRFCs(t *testing.T) {
	f, err := os.Open("testdata/error-codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[Code]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		num, name, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(num)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		c := Code(n)
		listed[c] = true
		if c.Name() != name {
			t.Errorf("code %d: name %q, the RFC says %q", n, c.Name(), name)
		}
		if c.Reason() == "" {
			t.Errorf("code %d (%s) has no reason", n, name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for c := range table {
		if !listed[c] {
			t.Errorf("code %d (%s) is not in the RFCs' list", c, c.Name())
		}
	}
}

func TestUnknownCode(t *testing.T) {
	c := Code(4242)
	if c.Known() || c.Name() != "error 4242" || c.String() != "error 4242" || c.Reason() != "" {
		t.Errorf("unknown code: %v %q %q %q", c.Known(), c.Name(), c.String(), c.Reason())
	}
	if got := PreauthFailed.String(); got != "KDC_ERR_PREAUTH_FAILED (24)" {
		t.Errorf("String: %q", got)
	}
}
