package kinit

import (
	"errors"
	"testing"
	"time"
)

// TestParseDuration: the forms MIT 1.20's kinit -l accepts and refuses
// (each checked against `kinit -l FORM` on Debian 12), and the values.
func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"2h", 2 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1d2h30m", 26*time.Hour + 30*time.Minute},
		{"90s", 90 * time.Second},
		{"10m5s", 10*time.Minute + 5*time.Second},
		{"1d 2h", 26 * time.Hour},
		{"1d 1h 1m 1s", 25*time.Hour + time.Minute + time.Second},
		{"1h 30m", 90 * time.Minute},
		{" 3h ", 3 * time.Hour},
		{"2H", 2 * time.Hour},
		{"1:30", 90 * time.Minute},
		{"01:02", 62 * time.Minute},
		{"1:30:15", time.Hour + 30*time.Minute + 15*time.Second},
		{"1:5", time.Hour + 5*time.Minute},
		{"1:60", 2 * time.Hour}, // MIT does not bound minutes
		{"1-2:30:00", 26*time.Hour + 30*time.Minute},
		{"3600", time.Hour},
		{"0", 0}, // parsed; kinit -l refuses zero itself
		{"-1h", -time.Hour},
		{"1d-1h", 23 * time.Hour},
		{"2147483647", (1<<31 - 1) * time.Second},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		// refused by MIT kinit too
		"", "h", "1h30", "1:30:15:1", "5s10m", "1d1d", "1m1h", "1 h", "1 d", "1 30m",
		"2h:30", "2d 1:00", "1d2:30", "1h1w", "1:2:3:", "2147483648", "99999999999",
		// read by MIT as one second (it stops at the unknown character); refused here
		"1w", "1.5h", "1x",
		// overflow of the 32-bit sum
		"24856d", "2147483647s 1s",
	} {
		if d, err := ParseDuration(in); !errors.Is(err, ErrDuration) {
			t.Errorf("ParseDuration(%q) = %v, %v; want ErrDuration", in, d, err)
		}
	}
}
