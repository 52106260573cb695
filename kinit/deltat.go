package kinit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrDuration is a duration that is not in MIT's syntax; see [ParseDuration].
var ErrDuration = errors.New("kinit: not a duration")

// ParseDuration reads a duration in the grammar of MIT's
// krb5_string_to_deltat (lib/krb5/krb/deltat.y), for kinit's -l, -r and -s
// and krb5.conf's ticket_lifetime and renew_lifetime:
//
//   - NdNhNmNs: any parts, in that order, blanks allowed before each
//     number, units in either case: "7d", "2h", "1d2h30m", "90s", "1d 12h"
//   - h:m[:s]: "1:30", "1:30:15"
//   - d-h:m:s: "1-02:30:00"
//   - a bare number of seconds: "3600"
//
// Numbers may be negative, as MIT allows; callers refuse what they cannot
// use. Unlike MIT, which silently stops reading at an unknown character (so
// "1w" and "1.5h" are one second to MIT kinit), such input is an error.
func ParseDuration(s string) (time.Duration, error) {
	p := deltatScanner{in: strings.TrimSpace(s)}
	secs, ok := p.deltat()
	if !ok || p.in != "" {
		return 0, fmt.Errorf("%w: %q (want e.g. 10h, 7d, 1d2h30m, 90s, 1:30 or a number of seconds)", ErrDuration, s)
	}
	return time.Duration(secs) * time.Second, nil
}

// maxDeltat bounds every number and sum: MIT's krb5_deltat is 32 bits.
const maxDeltat = 1<<31 - 1

// deltatScanner consumes in from the front.
type deltatScanner struct{ in string }

var deltatUnits = []struct {
	unit byte
	secs int64
}{{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}

func (p *deltatScanner) deltat() (int64, bool) {
	n, ok := p.wsnum()
	if !ok {
		return 0, false
	}
	switch {
	case p.in == "":
		return n, true
	case p.in[0] == ':':
		return p.hms(n)
	case p.in[0] == '-':
		p.in = p.in[1:]
		h, ok := p.posnum()
		if !ok || !strings.HasPrefix(p.in, ":") {
			return 0, false
		}
		hms, ok := p.hms(h)
		return sum(n*86400, hms, ok)
	}
	return p.units(n)
}

// units reads NdNhNmNs after the first number n.
func (p *deltatScanner) units(n int64) (int64, bool) {
	var total int64
	next := 0
	for {
		i := next
		for i < len(deltatUnits) && p.in != "" && lower(p.in[0]) != deltatUnits[i].unit {
			i++
		}
		if i == len(deltatUnits) || p.in == "" {
			return 0, false
		}
		p.in = p.in[1:]
		t, ok := sum(total, n*deltatUnits[i].secs, true)
		if !ok {
			return 0, false
		}
		total, next = t, i+1
		if strings.TrimLeft(p.in, " \t") == "" {
			p.in = ""
			return total, true
		}
		if n, ok = p.wsnum(); !ok {
			return 0, false
		}
	}
}

// hms reads ":m[:s]" after the hours h.
func (p *deltatScanner) hms(h int64) (int64, bool) {
	total := h * 3600
	for _, unit := range []int64{60, 1} {
		if !strings.HasPrefix(p.in, ":") {
			break
		}
		p.in = p.in[1:]
		n, ok := p.posnum()
		if !ok {
			return 0, false
		}
		if total, ok = sum(total, n*unit, true); !ok {
			return 0, false
		}
	}
	return total, true
}

// wsnum reads blanks, an optional '-' and digits.
func (p *deltatScanner) wsnum() (int64, bool) {
	p.in = strings.TrimLeft(p.in, " \t")
	neg := strings.HasPrefix(p.in, "-")
	if neg {
		p.in = p.in[1:]
	}
	n, ok := p.posnum()
	if neg {
		n = -n
	}
	return n, ok
}

func (p *deltatScanner) posnum() (int64, bool) {
	i := 0
	for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(p.in[:i], 10, 64)
	if err != nil || n > maxDeltat {
		return 0, false
	}
	p.in = p.in[i:]
	return n, true
}

func sum(a, b int64, ok bool) (int64, bool) {
	s := a + b
	return s, ok && s <= maxDeltat && s >= -maxDeltat-1
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
