package selection_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/krb5conf"
)

func TestParseHint(t *testing.T) {
	conf, err := krb5conf.Parse(strings.NewReader("[libdefaults]\n default_realm = EXAMPLE.COM\n[domain_realm]\n .partner.example = PARTNER.EXAMPLE\n"), "krb5.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hint, want string
		nameType   int32
	}{
		{"alice", "alice@EXAMPLE.COM", 1},
		{`EXAMPLE\alice`, "alice@EXAMPLE.COM", 1},
		{`example.com\alice`, "alice@EXAMPLE.COM", 1},
		{"alice@example.com", "alice@EXAMPLE.COM", 1},
		{"alice@corp.example.com", "alice@corp.example.com@EXAMPLE.COM", 10},
		{"bob@dept.partner.example", "bob@dept.partner.example@PARTNER.EXAMPLE", 10},
	} {
		h, err := selection.ParseHint(tc.hint, conf, "")
		if err != nil {
			t.Errorf("%s: %v", tc.hint, err)
			continue
		}
		if got := h.Principal.String(); got != tc.want || h.Principal.NameType != tc.nameType || h.Enterprise() != (tc.nameType == 10) || h.Text != tc.hint {
			t.Errorf("%s: %s (name type %d), want %s (%d)", tc.hint, got, h.Principal.NameType, tc.want, tc.nameType)
		}
	}
	for _, bad := range []string{"", `OTHER\alice`, `EXAMPLE\`, `EXAMPLE\a\b`, "@example.com", "alice@", "a@b@c", "host/ws1", "al ice", "alice\n"} {
		if _, err := selection.ParseHint(bad, conf, ""); !errors.Is(err, selection.ErrHint) {
			t.Errorf("%q: %v, want ErrHint", bad, err)
		}
	}
	empty, _ := krb5conf.Parse(strings.NewReader(""), "empty")
	if _, err := selection.ParseHint("alice", empty, ""); !errors.Is(err, selection.ErrHint) {
		t.Errorf("no realm: %v", err)
	}
}
