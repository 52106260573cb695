package kdc

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/krberror"
)

// The grants below are decided at grantNow, for a realm of 10-hour
// tickets renewable for 7 days.
const grantLife, grantRenewLife, oneDay = 10 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour

var grantNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

var noLimit time.Time // an absent till or rtime, or 19700101000000Z

func grantAt(d time.Duration) time.Time { return grantNow.Add(d) }

func grantBody(till, rtime time.Time, opts ...int) messages.KDCReqBody {
	return messages.KDCReqBody{KDCOptions: newFlags(opts...), Till: till, RTime: rtime}
}

func asGrant(b messages.KDCReqBody) grantRequest {
	return asGrantRequest(grantNow, b, grantLife, grantRenewLife, noLimit)
}

func tgsGrant(tkt messages.EncTicketPart, b messages.KDCReqBody) grantRequest {
	return tgsGrantRequest(grantNow, b, tkt)
}

// grantTGT is a renewable, forwardable TGT from an hour ago, as edit leaves it.
func grantTGT(edit func(*messages.EncTicketPart)) messages.EncTicketPart {
	tkt := messages.EncTicketPart{
		Flags:    newFlags(flagInitial, flagPreAuthent, flagHWAuthent, flagForwardable, flagRenewable),
		AuthTime: grantAt(-time.Hour), StartTime: grantAt(-time.Hour), EndTime: grantAt(9 * time.Hour), RenewTill: grantAt(6 * oneDay),
	}
	if edit != nil {
		edit(&tkt)
	}
	return tkt
}

var (
	initialFlags = []int{flagInitial, flagPreAuthent, flagHWAuthent}
	fromTGTFlags = []int{flagPreAuthent, flagHWAuthent}
	renewedFlags = []int{flagPreAuthent, flagHWAuthent, flagForwardable, flagRenewable} // grantTGT's, but INITIAL
)

func withFlags(base []int, more ...int) []int { return append(append([]int(nil), base...), more...) }

// A grantCase is one rule: the grant wanted, or the code of the refusal.
type grantCase struct {
	name      string
	req       grantRequest
	flags     []int
	end       time.Time
	renewTill time.Time
	code      krberror.Code // 0: granted
}

func initialGrantCases() []grantCase {
	return []grantCase{
		// Initial tickets: the realm's lifetime, within what was asked.
		{name: "as-default", req: asGrant(grantBody(grantAt(oneDay), noLimit)), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-till-shorter", req: asGrant(grantBody(grantAt(time.Hour), noLimit)), flags: initialFlags, end: grantAt(time.Hour)},
		{name: "as-till-no-limit", req: asGrant(grantBody(noLimit, noLimit)), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-account-expires", req: asGrantRequest(grantNow, grantBody(grantAt(oneDay), noLimit), grantLife, grantRenewLife, grantAt(2*time.Hour)), flags: initialFlags, end: grantAt(2 * time.Hour)},
		{name: "as-account-expired", req: asGrantRequest(grantNow, grantBody(grantAt(oneDay), noLimit), grantLife, grantRenewLife, grantAt(-time.Minute)), code: krberror.NeverValid},
		{name: "as-till-in-the-past", req: asGrant(grantBody(grantAt(-time.Hour), noLimit)), code: krberror.NeverValid},
		{name: "as-till-now", req: asGrant(grantBody(grantNow, noLimit)), code: krberror.NeverValid},
		{name: "as-forwardable-proxiable", req: asGrant(grantBody(grantAt(oneDay), noLimit, optForwardable, optProxiable)), flags: withFlags(initialFlags, flagForwardable, flagProxiable), end: grantAt(grantLife)},
		{name: "as-forwardable-only", req: asGrant(grantBody(grantAt(oneDay), noLimit, optForwardable)), flags: withFlags(initialFlags, flagForwardable), end: grantAt(grantLife)},

		// Renewable initial tickets.
		{name: "as-renewable-rtime", req: asGrant(grantBody(grantAt(oneDay), grantAt(2*oneDay), optRenewable)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(2 * oneDay)},
		{name: "as-renewable-no-rtime", req: asGrant(grantBody(grantAt(oneDay), noLimit, optRenewable)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(grantRenewLife)},
		{name: "as-renewable-rtime-beyond-limit", req: asGrant(grantBody(grantAt(oneDay), grantAt(30*oneDay), optRenewable)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(grantRenewLife)},
		{name: "as-renewable-rtime-before-end", req: asGrant(grantBody(grantAt(oneDay), grantAt(5*time.Hour), optRenewable)), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-renewable-ok-till-beyond-max", req: asGrant(grantBody(grantAt(oneDay), noLimit, optRenewableOK)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(oneDay)},
		{name: "as-renewable-ok-till-granted", req: asGrant(grantBody(grantAt(time.Hour), noLimit, optRenewableOK)), flags: initialFlags, end: grantAt(time.Hour)},
		{name: "as-renewable-ok-till-beyond-renew-limit", req: asGrant(grantBody(grantAt(30*oneDay), noLimit, optRenewableOK)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(grantRenewLife)},
		{name: "as-renewable-ok-no-limit", req: asGrant(grantBody(noLimit, noLimit, optRenewableOK)), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-renewable-capped-by-account-expiry", req: asGrantRequest(grantNow, grantBody(grantAt(oneDay), noLimit, optRenewable), grantLife, grantRenewLife, grantAt(3*oneDay)), flags: withFlags(initialFlags, flagRenewable), end: grantAt(grantLife), renewTill: grantAt(3 * oneDay)},
		{name: "as-renew-life-zero", req: asGrantRequest(grantNow, grantBody(grantAt(oneDay), grantAt(2*oneDay), optRenewable), grantLife, 0, noLimit), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-renew-life-negative", req: asGrantRequest(grantNow, grantBody(grantAt(oneDay), noLimit, optRenewable, optRenewableOK), grantLife, -1, noLimit), flags: initialFlags, end: grantAt(grantLife)},
		{name: "as-renew-option-ignored", req: asGrant(grantBody(grantAt(oneDay), noLimit, optRenew)), flags: initialFlags, end: grantAt(grantLife)},
	}
}

func ticketGrantCases() []grantCase {
	return []grantCase{
		// Tickets from a TGT: within its end, with no capability it lacks.
		{name: "tgs-default", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit)), flags: fromTGTFlags, end: grantTGT(nil).EndTime},
		{name: "tgs-till-shorter", req: tgsGrant(grantTGT(nil), grantBody(grantAt(time.Hour), noLimit)), flags: fromTGTFlags, end: grantAt(time.Hour)},
		{name: "tgs-till-no-limit", req: tgsGrant(grantTGT(nil), grantBody(noLimit, noLimit)), flags: fromTGTFlags, end: grantTGT(nil).EndTime},
		{name: "tgs-till-in-the-past", req: tgsGrant(grantTGT(nil), grantBody(grantAt(-time.Minute), noLimit)), code: krberror.NeverValid},
		{name: "tgs-tgt-ended", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { p.EndTime = grantNow }), grantBody(noLimit, noLimit)), code: krberror.NeverValid},
		{name: "tgs-forwardable-tgt-has", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit, optForwardable)), flags: withFlags(fromTGTFlags, flagForwardable), end: grantTGT(nil).EndTime},
		{name: "tgs-proxiable-tgt-lacks", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit, optForwardable, optProxiable)), flags: withFlags(fromTGTFlags, flagForwardable), end: grantTGT(nil).EndTime},
		{name: "tgs-forwardable-tgt-lacks", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { clearFlag(&p.Flags, flagForwardable) }), grantBody(grantAt(oneDay), noLimit, optForwardable)), flags: fromTGTFlags, end: grantTGT(nil).EndTime},
		{name: "tgs-no-hw-authent-in-tgt", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { clearFlag(&p.Flags, flagHWAuthent) }), grantBody(grantAt(oneDay), noLimit)), flags: []int{flagPreAuthent}, end: grantTGT(nil).EndTime},
		{name: "tgs-renewable-no-rtime", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit, optRenewable)), flags: withFlags(fromTGTFlags, flagRenewable), end: grantTGT(nil).EndTime, renewTill: grantTGT(nil).RenewTill},
		{name: "tgs-renewable-rtime", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), grantAt(oneDay), optRenewable)), flags: withFlags(fromTGTFlags, flagRenewable), end: grantTGT(nil).EndTime, renewTill: grantAt(oneDay)},
		{name: "tgs-renewable-rtime-beyond-tgt", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), grantAt(30*oneDay), optRenewable)), flags: withFlags(fromTGTFlags, flagRenewable), end: grantTGT(nil).EndTime, renewTill: grantTGT(nil).RenewTill},
		{name: "tgs-renewable-rtime-before-end", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), grantAt(5*time.Hour), optRenewable)), flags: fromTGTFlags, end: grantTGT(nil).EndTime},
		{name: "tgs-renewable-tgt-not-renewable", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { clearFlag(&p.Flags, flagRenewable) }), grantBody(grantAt(oneDay), grantAt(2*oneDay), optRenewable)), flags: fromTGTFlags, end: grantTGT(nil).EndTime},
		{name: "tgs-renewable-ok-till-beyond-tgt", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit, optRenewableOK)), flags: withFlags(fromTGTFlags, flagRenewable), end: grantTGT(nil).EndTime, renewTill: grantAt(oneDay)},
	}
}

func renewalGrantCases() []grantCase {
	return []grantCase{
		// Renewals: the old ticket's life again, up to its renew-till.
		{name: "tgs-renew", req: tgsGrant(grantTGT(nil), grantBody(grantAt(oneDay), noLimit, optRenew, optRenewable)), flags: renewedFlags, end: grantAt(10 * time.Hour), renewTill: grantTGT(nil).RenewTill},
		{name: "tgs-renew-ignores-till", req: tgsGrant(grantTGT(nil), grantBody(grantAt(time.Hour), noLimit, optRenew)), flags: renewedFlags, end: grantAt(10 * time.Hour), renewTill: grantTGT(nil).RenewTill},
		{name: "tgs-renew-up-to-renew-till", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { p.RenewTill = grantAt(3 * time.Hour) }), grantBody(noLimit, noLimit, optRenew)), flags: renewedFlags, end: grantAt(3 * time.Hour), renewTill: grantAt(3 * time.Hour)},
		{name: "tgs-renew-life-from-authtime", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { p.StartTime, p.AuthTime = time.Time{}, grantAt(-2*time.Hour) }), grantBody(noLimit, noLimit, optRenew)), flags: renewedFlags, end: grantAt(11 * time.Hour), renewTill: grantTGT(nil).RenewTill},
		{name: "tgs-renew-past-renew-till", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { p.RenewTill = grantNow }), grantBody(noLimit, noLimit, optRenew)), code: krberror.APTktExpired},
		{name: "tgs-renew-not-renewable", req: tgsGrant(grantTGT(func(p *messages.EncTicketPart) { clearFlag(&p.Flags, flagRenewable) }), grantBody(noLimit, noLimit, optRenew)), code: krberror.BadOption},
	}
}

// TestDecideGrant is the ticket flag and lifetime policy, one row per rule,
// for initial tickets (AS), tickets from a TGT (TGS) and renewals.
func TestDecideGrant(t *testing.T) {
	for _, tc := range slices.Concat(initialGrantCases(), ticketGrantCases(), renewalGrantCases()) {
		t.Run(tc.name, func(t *testing.T) {
			g, err := decideGrant(tc.req)
			if tc.code != 0 {
				if err == nil {
					t.Fatalf("granted %s, want %s", describeGrant(g), tc.code.Name())
				}
				if got := asRejection(err).code; got != tc.code {
					t.Fatalf("refused withFlags %s (%v), want %s", got.Name(), err, tc.code.Name())
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			want := grant{Flags: newFlags(tc.flags...), StartTime: grantNow, EndTime: tc.end, RenewTill: tc.renewTill}
			if !bytes.Equal(g.Flags.Bytes, want.Flags.Bytes) || g.Flags.BitLength != want.Flags.BitLength ||
				!g.StartTime.Equal(want.StartTime) || !g.EndTime.Equal(want.EndTime) || !g.RenewTill.Equal(want.RenewTill) {
				t.Errorf("granted %s\nwant    %s", describeGrant(g), describeGrant(want))
			}
		})
	}
}

// A renewal leaves the presented ticket's flags as they were: the new
// ticket's are a copy.
func TestDecideGrantRenewalCopiesFlags(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tkt := messages.EncTicketPart{
		Flags:     newFlags(flagInitial, flagRenewable),
		StartTime: now.Add(-time.Hour), EndTime: now.Add(time.Hour), RenewTill: now.Add(24 * time.Hour),
	}
	g, err := decideGrant(tgsGrantRequest(now, messages.KDCReqBody{KDCOptions: newFlags(optRenew)}, tkt))
	if err != nil {
		t.Fatal(err)
	}
	if hasFlag(g.Flags, flagInitial) || !hasFlag(tkt.Flags, flagInitial) {
		t.Errorf("renewed flags %x, presented ticket's now %x: want INITIAL cleared in the copy only", g.Flags.Bytes, tkt.Flags.Bytes)
	}
}

// describeGrant names a grant's flags and times in words: enough to read a
// failing row.
func describeGrant(g grant) string {
	names := map[int]string{flagForwardable: "FORWARDABLE", flagProxiable: "PROXIABLE", flagRenewable: "RENEWABLE", flagInitial: "INITIAL", flagPreAuthent: "PRE-AUTHENT", flagHWAuthent: "HW-AUTHENT"}
	var set []string
	for bit := range g.Flags.BitLength {
		if hasFlag(g.Flags, bit) {
			name, ok := names[bit]
			if !ok {
				name = fmt.Sprintf("bit %d", bit)
			}
			set = append(set, name)
		}
	}
	f := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	return fmt.Sprintf("[%s] start %s end %s renew-till %s", strings.Join(set, " "), f(g.StartTime), f(g.EndTime), f(g.RenewTill))
}
