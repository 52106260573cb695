package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/krb5conf"
)

// mitFlags are MIT kinit's options, with MIT's letters and meanings.
type mitFlags struct {
	lifetime, renewLife, start  string
	renew, validate             bool
	forwardable, notForwardable bool
	proxiable, notProxiable     bool
	enterprise, canonicalize    bool
	service                     string
}

func (m *mitFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.lifetime, "l", "", "")
	fs.StringVar(&m.renewLife, "r", "", "")
	fs.StringVar(&m.start, "s", "", "")
	fs.BoolVar(&m.renew, "R", false, "")
	fs.BoolVar(&m.validate, "v", false, "")
	fs.BoolVar(&m.forwardable, "f", false, "")
	fs.BoolVar(&m.notForwardable, "F", false, "")
	fs.BoolVar(&m.proxiable, "p", false, "")
	fs.BoolVar(&m.notProxiable, "P", false, "")
	fs.BoolVar(&m.enterprise, "E", false, "")
	fs.BoolVar(&m.canonicalize, "C", false, "")
	fs.StringVar(&m.service, "S", "", "")
}

// check refuses what MIT kinit refuses, with its reasons.
func (m *mitFlags) check() error {
	switch {
	case m.forwardable && m.notForwardable:
		return errors.New("-f and -F contradict each other; give one")
	case m.proxiable && m.notProxiable:
		return errors.New("-p and -P contradict each other; give one")
	case m.renew && m.validate:
		return errors.New("-R and -v contradict each other; give one")
	}
	for _, d := range []struct{ flag, v string }{{"-l", m.lifetime}, {"-r", m.renewLife}} {
		if d.v == "" {
			continue
		}
		if v, err := kinit.ParseDuration(d.v); err != nil || v <= 0 {
			return fmt.Errorf("%s %q: want a positive duration such as 10h, 7d, 1d2h30m, 90s or 1:30", d.flag, d.v)
		}
	}
	if m.start != "" {
		if _, err := parseStart(m.start, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

// parseStart reads -s as MIT kinit does: a duration from now, else an
// absolute time (RFC 3339 or YYYYmmddHHMMSS, local time).
func parseStart(v string, now time.Time) (time.Duration, error) {
	if d, err := kinit.ParseDuration(v); err == nil && d != 0 {
		return d, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "20060102150405"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t.Sub(now).Truncate(time.Second), nil
		}
	}
	return 0, fmt.Errorf("-s %q: want a duration from now (10m, 1h, 1:30) or a time (2006-01-02T15:04:05)", v)
}

// ticketOptions are krb5.conf's [libdefaults] for realm, overridden by the
// flags, as MIT kinit applies them.
func (m *mitFlags) ticketOptions(conf *krb5conf.Config, realm string) (kinit.TicketOptions, error) {
	o, err := kinit.TicketOptionsFromConfig(conf, realm)
	if err != nil {
		return o, err
	}
	if m.lifetime != "" {
		o.Lifetime, _ = kinit.ParseDuration(m.lifetime)
	}
	if m.renewLife != "" {
		o.RenewLife, _ = kinit.ParseDuration(m.renewLife)
	}
	if m.start != "" {
		if o.StartIn, err = parseStart(m.start, time.Now()); err != nil {
			return o, usageError{err}
		}
	}
	switch {
	case m.forwardable:
		o.NotForwardable = false
	case m.notForwardable:
		o.NotForwardable = true
	}
	switch {
	case m.proxiable:
		o.Proxiable = true
	case m.notProxiable:
		o.Proxiable = false
	}
	o.Canonicalize = m.canonicalize
	return o, nil
}

// clientName is the principal to log on: -E reads the argument as an
// enterprise name (alice@example.com, in the default realm unless a second
// @REALM follows), as MIT's KRB5_PRINCIPAL_PARSE_ENTERPRISE.
func (m *mitFlags) clientName(arg string, id kinit.Identity, conf *krb5conf.Config) (ccache.Principal, error) {
	if !m.enterprise || arg == "" {
		return kinit.ClientName(arg, id.Certificate(), conf)
	}
	name, realm := arg, conf.DefaultRealm()
	if i := strings.LastIndexByte(arg, '@'); i >= 0 && strings.Count(arg, "@") > 1 {
		name, realm = arg[:i], arg[i+1:]
	}
	if realm == "" {
		return ccache.Principal{}, fmt.Errorf("-E %s: krb5.conf sets no default_realm; write it as %s@REALM", arg, arg)
	}
	return ccache.Principal{NameType: kinit.NameTypeEnterprise, Components: []string{name}, Realm: realm}, nil
}

// server is the initial ticket's service (-S), in the client's realm as MIT
// puts it; the zero value, krbtgt, without -S.
func (m *mitFlags) server(realm string) (ccache.Principal, error) {
	if m.service == "" {
		return ccache.Principal{}, nil
	}
	p, err := certs.ParsePrincipalName(m.service + "@" + realm)
	if strings.Contains(m.service, "@") {
		p, err = certs.ParsePrincipalName(m.service)
	}
	if err != nil {
		return ccache.Principal{}, usageError{fmt.Errorf("-S %s: %w", m.service, err)}
	}
	return ccache.Principal{NameType: kinit.NameTypePrincipal, Components: p.Name, Realm: realm}, nil
}

// kinitTrace is the trace hook: "sclogon: …" lines on stderr for -V, and
// MIT's "[pid] seconds.micros: …" lines to KRB5_TRACE's file. close flushes
// and closes that file.
func kinitTrace(s stdio, verbose bool) (trace func(string, ...any), close func(), err error) {
	var sinks []func(string)
	close = func() {}
	if verbose {
		sinks = append(sinks, func(m string) { fmt.Fprintf(s.errOut, "sclogon: %s\n", m) })
	}
	if path := os.Getenv("KRB5_TRACE"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("KRB5_TRACE=%s: %w", path, err)
		}
		sinks = append(sinks, mitTraceLine(f, os.Getpid(), time.Now))
		close = func() { f.Close() }
	}
	if len(sinks) == 0 {
		return nil, close, nil
	}
	return func(format string, a ...any) {
		m := fmt.Sprintf(format, a...)
		for _, sink := range sinks {
			sink(m)
		}
	}, close, nil
}

// mitTraceLine writes a trace message in MIT's KRB5_TRACE form.
func mitTraceLine(w io.Writer, pid int, now func() time.Time) func(string) {
	return func(m string) {
		t := now()
		fmt.Fprintf(w, "[%d] %d.%06d: %s\n", pid, t.Unix(), t.Nanosecond()/1000, m)
	}
}

// refreshMain is kinit -R and -v: the ticket in the cache goes back to the
// KDC through a TGS-REQ, renewed or validated; no card is needed. As MIT
// kinit does, the cache then holds the new ticket only.
func refreshMain(ctx context.Context, s stdio, f *kinitFlags, conf *krb5conf.Config, trace func(string, ...any)) error {
	cache, err := openCCache(f, conf)
	if err != nil {
		return err
	}
	path := cache.Name()
	cc, err := cache.Load()
	if err != nil {
		return fmt.Errorf("%w: %w", errNoCache, err)
	}
	realm := cc.Principal.Realm
	server := krbtgtPrincipal(realm)
	if f.mit.service != "" {
		if server, err = f.mit.server(realm); err != nil {
			return err
		}
	}
	i := slices.IndexFunc(cc.Credentials, func(c ccache.Credential) bool { return samePrincipal(c.Server, server) })
	if i < 0 {
		return fmt.Errorf("%w: %s holds no ticket for %s", errNoCache, path, server)
	}
	kdcs, err := f.kdcsFor(ctx, conf, realm)
	if err != nil {
		return err
	}
	c := &kinit.Client{Transport: f.transport(conf, trace), Trace: trace}
	what, do := "renewed", c.Renew
	if f.mit.validate {
		what, do = "validated", c.Validate
	}
	stop := startSpinner(s.errOut, !f.verbose, "asking the KDC for the ticket of "+cc.Principal.String())
	cred, err := do(ctx, kdcs, cc.Principal, cc.Credentials[i])
	stop()
	if err != nil {
		return err
	}
	res := &kinit.Result{Client: cc.Principal, TGT: cred}
	if err := cache.Store(res.CCache()); err != nil {
		return err
	}
	if f.json {
		return printKinitJSON(s.out, path, res)
	}
	fmt.Fprintf(s.errOut, "sclogon: ticket for %s %s in %s (valid until %s%s)\n", cc.Principal, what, path,
		cred.EndTime.Local().Format(time.DateTime), renewUntil(cred))
	return nil
}

// errNoCache: kinit -R or -v found no ticket to work on.
var errNoCache = errors.New("no ticket to renew or validate")

func renewUntil(c ccache.Credential) string {
	if c.RenewTill.IsZero() {
		return ""
	}
	return ", renewable until " + c.RenewTill.Local().Format(time.DateTime)
}

func krbtgtPrincipal(realm string) ccache.Principal {
	return ccache.Principal{NameType: kinit.NameTypeSrvInst, Components: []string{"krbtgt", realm}, Realm: realm}
}

func samePrincipal(a, b ccache.Principal) bool {
	return a.Realm == b.Realm && slices.Equal(a.Components, b.Components)
}

// openCCache is the cache -c names, else the one MIT's tools use: KRB5CCNAME,
// then default_ccache_name, then FILE:/tmp/krb5cc_UID; any type MIT names
// (FILE, DIR, KEYRING, KCM).
func openCCache(f *kinitFlags, conf *krb5conf.Config) (ccache.Cache, error) {
	return openNamedCache(f.ccache, conf)
}

// openNamedCache opens the cache name names; "" is the one MIT's tools use.
func openNamedCache(name string, conf *krb5conf.Config) (ccache.Cache, error) {
	env := ccache.Environment(conf)
	if name == "" {
		var err error
		if name, err = ccache.DefaultName(env); err != nil {
			return nil, err
		}
	}
	return ccache.Open(name, env)
}
