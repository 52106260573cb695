package kinit

import (
	"fmt"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krb5conf"
)

// KDC options, RFC 4120 §5.4.1: bit numbers of the KDCOptions BIT STRING.
const (
	optForwardable   = 1  // forwardable
	optProxiable     = 3  // proxiable
	optAllowPostdate = 5  // allow-postdate
	optPostdated     = 6  // postdated
	optRenewable     = 8  // renewable
	optCanonicalize  = 15 // canonicalize, RFC 6806 §3
	optRenew         = 30 // renew
	optValidate      = 31 // validate
)

// TicketOptions are what a kinit asks of the initial ticket, as MIT kinit's
// -l, -r, -f/-F, -p/-P, -s and -C set them. The zero value asks for a
// forwardable ticket of [DefaultLifetime]; see [TicketOptionsFromConfig] for
// MIT's defaults instead.
type TicketOptions struct {
	// Lifetime is how long the ticket is asked to last from its start
	// (till); zero: DefaultLifetime.
	Lifetime time.Duration
	// RenewLife asks for a renewable ticket (RENEWABLE, rtime) renewable
	// for this long from its start; zero: not renewable.
	RenewLife time.Duration
	// NotForwardable leaves FORWARDABLE out (kinit -F); Forwardable, with
	// it unset, is the default of the zero value.
	NotForwardable bool
	Proxiable      bool // PROXIABLE (kinit -p)
	// StartIn asks for a postdated ticket valid from now+StartIn
	// (ALLOW-POSTDATE, POSTDATED, from); zero: valid now.
	StartIn      time.Duration
	Canonicalize bool // CANONICALIZE, RFC 6806 (kinit -C); always set for an enterprise name
}

// DefaultLifetime is the lifetime asked for when TicketOptions sets none.
const DefaultLifetime = 10 * time.Hour

// mitDefaultLifetime is MIT's ticket_lifetime default, one day.
const mitDefaultLifetime = 24 * time.Hour

// TicketOptionsFromConfig reads [libdefaults] ticket_lifetime,
// renew_lifetime, forwardable and proxiable for realm as MIT's library
// does: [libdefaults] REALM = { option = … } first, then [libdefaults]
// option; MIT's defaults otherwise (one day, not renewable, neither
// forwardable nor proxiable). noaddresses needs no reading: sclogon never
// puts addresses in a request, as MIT's default noaddresses = true.
func TicketOptionsFromConfig(conf *krb5conf.Config, realm string) (TicketOptions, error) {
	o := TicketOptions{Lifetime: mitDefaultLifetime, NotForwardable: true}
	var err error
	if p, ok := libdefault(conf, realm, "ticket_lifetime"); ok {
		if o.Lifetime, err = configDuration(conf, p); err != nil {
			return o, err
		}
	}
	if p, ok := libdefault(conf, realm, "renew_lifetime"); ok {
		if o.RenewLife, err = configDuration(conf, p); err != nil {
			return o, err
		}
	}
	if p, ok := libdefault(conf, realm, "forwardable"); ok {
		o.NotForwardable = !confTrue(conf, p)
	}
	if p, ok := libdefault(conf, realm, "proxiable"); ok {
		o.Proxiable = confTrue(conf, p)
	}
	return o, nil
}

// libdefault finds where the profile sets key for realm, as MIT's
// krb5int_libdefault_string looks: the realm's block in [libdefaults],
// then [libdefaults] itself. It returns the path and whether one was found.
func libdefault(conf *krb5conf.Config, realm, key string) ([]string, bool) {
	for _, path := range [][]string{{"libdefaults", realm, key}, {"libdefaults", key}} {
		if path[1] == "" {
			continue
		}
		if _, ok := conf.Value(path...); ok {
			return path, true
		}
	}
	return nil, false
}

// confTrue reads the boolean at path; as in MIT, a value that is not one
// of the true words is false.
func confTrue(conf *krb5conf.Config, path []string) bool {
	b, _ := conf.Bool(path...)
	return b
}

func configDuration(conf *krb5conf.Config, path []string) (time.Duration, error) {
	v, _ := conf.Value(path...)
	where := "[" + path[0] + "] " + strings.Join(path[1:], " ")
	d, err := ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: krb5.conf %s = %s", ErrDuration, where, v)
	}
	return d, nil
}

// kdcOptions are the KDCOptions of the AS-REQ.
func (o TicketOptions) kdcOptions(enterprise bool) asn1.BitString {
	opts := types.NewKrbFlags()
	set := func(bit int, on bool) {
		if on {
			types.SetFlag(&opts, bit)
		}
	}
	set(optForwardable, !o.NotForwardable)
	set(optProxiable, o.Proxiable)
	set(optAllowPostdate, o.StartIn > 0)
	set(optPostdated, o.StartIn > 0)
	set(optRenewable, o.RenewLife > 0)
	set(optCanonicalize, o.Canonicalize || enterprise)
	return opts
}

// times are the from, till and rtime of a request made at now.
func (o TicketOptions) times(now time.Time) (from, till, rtime time.Time) {
	start := now.UTC().Truncate(time.Second)
	if o.StartIn > 0 {
		start = start.Add(o.StartIn)
		from = start
	}
	life := o.Lifetime
	if life <= 0 {
		life = DefaultLifetime
	}
	till = start.Add(life)
	if o.RenewLife > 0 {
		rtime = start.Add(o.RenewLife)
	}
	return from, till, rtime
}

// Ticket flags, RFC 4120 §5.3: bit numbers of the TicketFlags BIT STRING.
const (
	flagInvalid   = 7 // invalid: postdated, not yet validated
	flagRenewable = 8 // renewable
)

// ticketFlag is bit as the ccache's uint32 of flags holds it.
func ticketFlag(bit int) uint32 { return 1 << (31 - bit) }

// kdcOptions is a KDCOptions BIT STRING with bits set.
func kdcOptions(bits ...int) asn1.BitString {
	opts := types.NewKrbFlags()
	for _, b := range bits {
		types.SetFlag(&opts, b)
	}
	return opts
}
