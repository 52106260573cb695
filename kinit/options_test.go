package kinit

import (
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/krb5conf"
)

// TestTicketOptionsFromConfig: [libdefaults] REALM = { … } before
// [libdefaults], MIT's defaults when unset, and a bad duration named.
func TestTicketOptionsFromConfig(t *testing.T) {
	parse := func(s string) *krb5conf.Config {
		c, err := krb5conf.Parse(strings.NewReader(s), "test")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	o, err := TicketOptionsFromConfig(parse(""), "EXAMPLE.COM")
	if err != nil || o != (TicketOptions{Lifetime: 24 * time.Hour, NotForwardable: true}) {
		t.Fatalf("defaults: %+v, %v", o, err)
	}
	conf := parse("[libdefaults]\n ticket_lifetime = 8h\n renew_lifetime = 7d\n forwardable = yes\n proxiable = true\n" +
		" EXAMPLE.COM = {\n  ticket_lifetime = 1:30\n  forwardable = false\n }\n")
	o, err = TicketOptionsFromConfig(conf, "EXAMPLE.COM")
	want := TicketOptions{Lifetime: 90 * time.Minute, RenewLife: 7 * 24 * time.Hour, NotForwardable: true, Proxiable: true}
	if err != nil || o != want {
		t.Fatalf("EXAMPLE.COM: %+v, %v; want %+v", o, err, want)
	}
	o, _ = TicketOptionsFromConfig(conf, "OTHER.ORG")
	if o.Lifetime != 8*time.Hour || o.NotForwardable {
		t.Fatalf("OTHER.ORG: %+v", o)
	}
	_, err = TicketOptionsFromConfig(parse("[libdefaults]\n renew_lifetime = 1w\n"), "EXAMPLE.COM")
	if err == nil || !strings.Contains(err.Error(), "[libdefaults] renew_lifetime") {
		t.Fatalf("bad duration: %v", err)
	}
}

// TestRequestTimes: till and rtime count from the start, which -s moves.
func TestRequestTimes(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	from, till, rtime := TicketOptions{Lifetime: 2 * time.Hour, RenewLife: 7 * 24 * time.Hour, StartIn: 10 * time.Minute}.times(now)
	start := now.Truncate(time.Second).Add(10 * time.Minute)
	if !from.Equal(start) || !till.Equal(start.Add(2*time.Hour)) || !rtime.Equal(start.Add(7*24*time.Hour)) {
		t.Fatalf("from %v till %v rtime %v", from, till, rtime)
	}
	from, till, rtime = TicketOptions{}.times(now)
	if !from.IsZero() || !till.Equal(now.Truncate(time.Second).Add(DefaultLifetime)) || !rtime.IsZero() {
		t.Fatalf("zero options: from %v till %v rtime %v", from, till, rtime)
	}
}
