package kdc

import (
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/krberror"
)

// grantRequest is what a new ticket's flags and times are decided from
// (RFC 4120 §3.1.3 for AS, §3.3.3 for TGS): what the client asked for and
// the limits of the realm, the account or the presented ticket. The AS and
// TGS exchanges fill it differently and share one policy, [decideGrant].
type grantRequest struct {
	Now     time.Time
	Options asn1.BitString // the request's kdc-options
	// Till and RTime are as requested; zero is "no limit" (absent, or
	// 19700101000000Z: see requestedTime).
	Till, RTime time.Time
	// MaxEnd is the latest end time allowed: now + the ticket lifetime
	// capped by the account's expiry (AS), or the TGT's end (TGS).
	MaxEnd time.Time
	// MaxRenewTill is the latest renew-till allowed: now + the renewable
	// lifetime (AS), or the TGT's renew-till when the TGT is renewable
	// (TGS). Zero: no renewable tickets.
	MaxRenewTill time.Time
	// Parent is the ticket a TGS-REQ presents; nil for an initial ticket.
	Parent *parentTicket
}

// parentTicket is what a TGS-REQ's ticket hands down to the ticket issued
// from it.
type parentTicket struct {
	Flags     asn1.BitString
	AuthTime  time.Time
	StartTime time.Time // zero when the ticket had none: AuthTime stands for it
	EndTime   time.Time
	RenewTill time.Time
}

// asGrantRequest is the grantRequest of an AS exchange: the realm's ticket
// and renewable lifetimes from now, the end capped by the account's expiry
// (zero: none). A renewable lifetime of zero or less allows no renewable
// tickets.
func asGrantRequest(now time.Time, body messages.KDCReqBody, ticketLife, renewLife time.Duration, accountExpires time.Time) grantRequest {
	r := grantRequest{Now: now, Options: body.KDCOptions, Till: body.Till, RTime: body.RTime, MaxEnd: now.Add(ticketLife)}
	if !accountExpires.IsZero() && accountExpires.Before(r.MaxEnd) {
		r.MaxEnd = accountExpires
	}
	if renewLife > 0 {
		r.MaxRenewTill = now.Add(renewLife)
		// A renewal does not consult the directory again: an account that
		// expires must not be renewed past its expiry.
		if !accountExpires.IsZero() && accountExpires.Before(r.MaxRenewTill) {
			r.MaxRenewTill = accountExpires
		}
	}
	return r
}

// tgsGrantRequest is the grantRequest of a TGS exchange presenting tkt: its
// end, and its renew-till when it is renewable, are the limits.
func tgsGrantRequest(now time.Time, body messages.KDCReqBody, tkt messages.EncTicketPart) grantRequest {
	r := grantRequest{
		Now: now, Options: body.KDCOptions, Till: body.Till, RTime: body.RTime,
		MaxEnd: tkt.EndTime,
		Parent: &parentTicket{
			Flags:     tkt.Flags,
			AuthTime:  tkt.AuthTime,
			StartTime: tkt.StartTime,
			EndTime:   tkt.EndTime,
			RenewTill: tkt.RenewTill,
		},
	}
	if hasFlag(tkt.Flags, flagRenewable) {
		r.MaxRenewTill = tkt.RenewTill
	}
	return r
}

// grant is the decision: the new ticket's flags and times.
type grant struct {
	Flags     asn1.BitString
	StartTime time.Time
	EndTime   time.Time
	RenewTill time.Time // zero unless Flags has RENEWABLE
}

// decideGrant is the KDC's one ticket flag and lifetime policy. An initial
// ticket is a PKINIT logon, so it is INITIAL, PRE-AUTHENT and HW-AUTHENT; a
// ticket from a TGT keeps the TGT's PRE-AUTHENT and HW-AUTHENT. FORWARDABLE,
// PROXIABLE and RENEWABLE are granted when asked for and, from a TGT, only
// when the TGT has them. A renewal (the RENEW option with a TGS-REQ) keeps
// the old ticket's flags but INITIAL and its renew-till, and lasts as long
// as the old ticket did, up to that renew-till. A ticket that would end by
// now is KDC_ERR_NEVER_VALID.
func decideGrant(r grantRequest) (grant, error) {
	var g grant
	if r.Parent != nil && hasFlag(r.Options, optRenew) {
		var err error
		if g, err = r.renewal(); err != nil {
			return grant{}, err
		}
	} else {
		g = r.fresh()
	}
	if !g.EndTime.After(r.Now) {
		return grant{}, reject(krberror.NeverValid, nil, "requested end time is in the past")
	}
	return g, nil
}

// fresh decides a ticket that is not a renewal.
func (r grantRequest) fresh() grant {
	g := grant{StartTime: r.Now, EndTime: r.MaxEnd}
	if !r.Till.IsZero() && r.Till.Before(g.EndTime) {
		g.EndTime = r.Till
	}
	var bits []int
	if r.Parent == nil {
		bits = []int{flagInitial, flagPreAuthent, flagHWAuthent}
	} else {
		for _, b := range []int{flagPreAuthent, flagHWAuthent} {
			if hasFlag(r.Parent.Flags, b) {
				bits = append(bits, b)
			}
		}
	}
	// The option bits of FORWARDABLE and PROXIABLE are the flag bits.
	for _, b := range []int{flagForwardable, flagProxiable} {
		if hasFlag(r.Options, b) && r.parentAllows(b) {
			bits = append(bits, b)
		}
	}
	if till, ok := r.renewTill(g.EndTime); ok && r.parentAllows(flagRenewable) {
		bits = append(bits, flagRenewable)
		g.RenewTill = till
	}
	g.Flags = newFlags(bits...)
	return g
}

// parentAllows reports whether the new ticket may have flag bit: a ticket
// from a TGT never gains a capability the TGT lacks (RFC 4120 §2.5, §2.6).
func (r grantRequest) parentAllows(bit int) bool {
	return r.Parent == nil || hasFlag(r.Parent.Flags, bit)
}

// renewTill is the renew-till of a ticket ending at end, and whether it is
// to be renewable. RENEWABLE asks for renew-till = rtime (zero: as long as
// allowed); RENEWABLE-OK asks for a renewable ticket only when till cannot
// be granted, and then renew-till is till (RFC 4120 §2.3, §3.1.3). Either
// way within MaxRenewTill, and only when renewing could outlast end: a
// renew-till at or before the end is no renewable life at all.
func (r grantRequest) renewTill(end time.Time) (time.Time, bool) {
	if r.MaxRenewTill.IsZero() {
		return time.Time{}, false
	}
	var till time.Time
	switch {
	case hasFlag(r.Options, optRenewable):
		till = r.RTime
	case hasFlag(r.Options, optRenewableOK) && !r.Till.IsZero() && r.Till.After(end):
		till = r.Till
	default:
		return time.Time{}, false
	}
	if till.IsZero() || till.After(r.MaxRenewTill) {
		till = r.MaxRenewTill
	}
	return till, till.After(end)
}

// renewal decides the renewal of r.Parent (RFC 4120 §3.3.3): the old
// ticket's life again from now, but not past its renew-till.
func (r grantRequest) renewal() (grant, error) {
	p := r.Parent
	if !hasFlag(p.Flags, flagRenewable) {
		return grant{}, reject(krberror.BadOption, nil, "ticket is not renewable")
	}
	if !r.Now.Before(p.RenewTill) {
		return grant{}, reject(krberror.APTktExpired, nil, "renewable life ended at %s", p.RenewTill.UTC().Format(time.RFC3339))
	}
	start := p.StartTime
	if start.IsZero() {
		start = p.AuthTime
	}
	flags := asn1.BitString{Bytes: append([]byte(nil), p.Flags.Bytes...), BitLength: p.Flags.BitLength}
	clearFlag(&flags, flagInitial)
	return grant{
		Flags:     flags,
		StartTime: r.Now,
		EndTime:   minTime(r.Now.Add(p.EndTime.Sub(start)), p.RenewTill),
		RenewTill: p.RenewTill,
	}, nil
}

func clearFlag(f *asn1.BitString, bit int) {
	if bit/8 < len(f.Bytes) {
		f.Bytes[bit/8] &^= 0x80 >> (bit % 8)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
