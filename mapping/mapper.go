package mapping

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sclogon/sclogon/certs"
)

// Method is one way of locating the account a certificate belongs to.
type Method int

const (
	// MethodSIDExtension matches the SID in the certificate's
	// szOID_NTDS_CA_SECURITY_EXT extension (1.3.6.1.4.1.311.25.2) against
	// objectSid. Strong. Used only for certificates from a CA in
	// [Policy.SIDTrustedCAs], and never with [EnforcementOff].
	MethodSIDExtension Method = iota + 1
	// MethodAltSecID matches altSecurityIdentities against every form
	// [AltSecIDsFor] computes. Strong when a strong form matched.
	MethodAltSecID
	// MethodUPN matches the subjectAltName UPNs against userPrincipalName.
	// Weak.
	MethodUPN
)

func (m Method) String() string {
	switch m {
	case MethodSIDExtension:
		return "sid-extension"
	case MethodAltSecID:
		return "altSecurityIdentities"
	case MethodUPN:
		return "upn"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// DefaultOrder is the method order when [Policy.Order] is empty: the SID
// extension, then explicit mappings, then the implicit UPN mapping —
// strongest and most explicit first.
var DefaultOrder = []Method{MethodSIDExtension, MethodAltSecID, MethodUPN}

// Enforcement is the KB5014754 StrongCertificateBindingEnforcement mode.
// The zero value is full enforcement, Windows' only mode since September 2025.
type Enforcement int

const (
	// EnforcementFull accepts only strong mappings (registry value 2).
	EnforcementFull Enforcement = iota
	// EnforcementCompatibility accepts a weak mapping when the certificate
	// is not older than the account, less the backdating allowance
	// (registry value 1).
	EnforcementCompatibility
	// EnforcementOff accepts any mapping and ignores the SID extension
	// (registry value 0).
	EnforcementOff
)

func (e Enforcement) String() string {
	switch e {
	case EnforcementFull:
		return "full"
	case EnforcementCompatibility:
		return "compatibility"
	case EnforcementOff:
		return "off"
	}
	return fmt.Sprintf("Enforcement(%d)", int(e))
}

// DefaultBackdatingAllowance is how much older than the account a weakly
// mapped certificate may be in compatibility mode, when
// [Policy.BackdatingAllowance] is zero: the 10 minutes by which AD CS
// backdates notBefore (its ClockSkewMinutes default), so that a certificate
// issued right after the account was created is not refused.
const DefaultBackdatingAllowance = 10 * time.Minute

// Policy is the domain's certificate mapping configuration.
type Policy struct {
	// Order is the order methods are tried in; empty means DefaultOrder.
	// The first method that locates an account wins.
	Order       []Method
	Enforcement Enforcement
	// SIDTrustedCAs are the issuing CAs whose SID extension is believed.
	// A SID extension from any other CA is ignored (and logged).
	SIDTrustedCAs []*x509.Certificate
	// BackdatingAllowance is KB5014754's CertificateBackdatingCompensation;
	// zero means DefaultBackdatingAllowance, negative means none.
	BackdatingAllowance time.Duration
	// CacheTTL, when positive, keeps each successful mapping for that long
	// (see cache): zero maps every request against the directory.
	CacheTTL time.Duration
	// CacheSize bounds the cached mappings; zero means DefaultCacheSize.
	CacheSize int
}

// Options are the mapper's injected dependencies.
type Options struct {
	Now func() time.Time // default time.Now
	Log *slog.Logger     // default: discard
}

// Hint is the client name of the AS-REQ, which chooses among accounts a
// certificate maps to.
type Hint struct {
	// Name is "user" (sAMAccountName), "DOMAIN\user", or "user@suffix"
	// (a UPN). Empty means no hint.
	Name string
	// Realm is the request's realm; a "user@suffix" name whose UPN is not
	// found falls back to sAMAccountName "user" when suffix equals Realm.
	Realm string
	// Enterprise is true for an NT-ENTERPRISE name (RFC 6806 §5).
	Enterprise bool
}

// Request is what the KDC knows after it has verified the certificate path.
type Request struct {
	Cert   *x509.Certificate
	Issuer *x509.Certificate // the CA that issued Cert; needed to trust a SID extension
	Hint   Hint
}

// Result is a successful mapping.
type Result struct {
	Account Account
	// Method is the first method, in policy order, that located the account.
	Method Method
	// Methods are all methods that located it.
	Methods []Method
	// AltSecID is the strongest altSecurityIdentities form that matched,
	// when MethodAltSecID located the account.
	AltSecID *AltSecID
	// Strong reports a strong mapping in the KB5014754 sense.
	Strong bool
}

// Mapper maps certificates to accounts. It is safe for concurrent use.
type Mapper struct {
	dir    Directory
	policy Policy
	now    func() time.Time
	log    *slog.Logger
	cache  *cache // nil unless Policy.CacheTTL > 0
}

// New returns a mapper over dir.
func New(dir Directory, policy Policy, opts Options) *Mapper {
	if len(policy.Order) == 0 {
		policy.Order = DefaultOrder
	}
	if policy.BackdatingAllowance == 0 {
		policy.BackdatingAllowance = DefaultBackdatingAllowance
	} else if policy.BackdatingAllowance < 0 {
		policy.BackdatingAllowance = 0
	}
	m := &Mapper{dir: dir, policy: policy, now: opts.Now, log: opts.Log}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if policy.CacheTTL > 0 {
		m.cache = newCache(policy.CacheTTL, policy.CacheSize, m.now)
	}
	return m
}

// located is one method's finding: the accounts it located and, for
// altSecurityIdentities, the strongest form matched on each.
type located struct {
	method   Method
	accounts []Account
	forms    map[string]AltSecID // by folded DN
}

// Map finds the account req.Cert belongs to and checks that it may log on.
// Errors wrap the sentinels of this package; see [ErrorCode].
func (m *Mapper) Map(ctx context.Context, req Request) (*Result, error) {
	if req.Cert == nil {
		return nil, errors.New("mapping: no certificate")
	}
	if m.cache != nil {
		return m.cache.mapVia(ctx, req, m.mapUncached)
	}
	return m.mapUncached(ctx, req)
}

// mapUncached is Map against the directory: read what the certificate
// asserts, locate accounts by each method of the policy, choose one, then
// enforce KB5014754 and the account's state.
func (m *Mapper) mapUncached(ctx context.Context, req Request) (*Result, error) {
	cert := req.Cert
	log := &mapLog{ctx: ctx, log: m.log, cert: cert}
	facts, err := m.readCertificate(req, log)
	if err != nil {
		return nil, err
	}
	found, names, err := m.locate(ctx, facts, req.Hint)
	if err != nil {
		return nil, err
	}
	chosen, err := m.choose(ctx, req, facts, found, names, log)
	if err != nil {
		return nil, err
	}
	res := mappedBy(found, chosen)
	log.res = res
	if err := m.enforce(cert, facts, res, log); err != nil {
		return nil, err
	}
	groups, err := m.groups(ctx, chosen)
	if err != nil {
		return nil, err
	}
	res.Account.GroupSIDs = groups
	// Debug, not Info: the KDC's audit line for the request records the
	// same account, method and strength, and at Info this line cost a
	// third of an uncached mapping's CPU, formatting the subject DN.
	log.at(slog.LevelDebug, "mapping: certificate mapped")
	return res, nil
}

// mapLog writes the lines about one mapping, each with the certificate's
// subject and serial number and, once one is chosen, the account. It
// formats those only for a line the handler will write, where a
// slog.Logger.With per request would format them for every request (a
// handler formats With attributes at once).
type mapLog struct {
	ctx  context.Context
	log  *slog.Logger
	cert *x509.Certificate
	res  *Result // nil until an account is chosen
}

func (l *mapLog) at(level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(l.ctx, level) {
		return
	}
	attrs := make([]any, 0, 10+len(args))
	attrs = append(attrs, "subject", l.cert.Subject.String(), "serial", l.cert.SerialNumber.Text(16))
	if l.res != nil {
		attrs = append(attrs, "account", l.res.Account.DN, "method", l.res.Method.String(), "strong", l.res.Strong)
	}
	l.log.Log(l.ctx, level, msg, append(attrs, args...)...)
}

// certFacts are what a certificate asserts that mapping can use, read once
// per mapping.
type certFacts struct {
	upns       []string
	sid        certs.SID
	sidTrusted bool // the SID extension is present and its issuer may assert SIDs
	forms      []AltSecID
	formValues []string // forms[i].String(), what the directory is asked for
	// formFolds are FoldValue(formValues[i]), what stored values are
	// compared with; locate folds them when an account is found by them.
	formFolds []string
}

func (m *Mapper) readCertificate(req Request, log *mapLog) (certFacts, error) {
	cert := req.Cert
	upns, err := certs.UPNs(cert)
	if err != nil {
		return certFacts{}, fmt.Errorf("mapping: certificate subjectAltName: %w", err)
	}
	certSID, hasSID, err := certs.SIDFromCert(cert)
	if err != nil {
		return certFacts{}, fmt.Errorf("mapping: certificate SID extension: %w", err)
	}
	sidTrusted := hasSID && m.policy.Enforcement != EnforcementOff && m.trustsSID(req.Issuer)
	if hasSID && !sidTrusted && m.policy.Enforcement != EnforcementOff {
		log.at(slog.LevelWarn, "mapping: ignoring the SID extension of a certificate from a CA not trusted to assert SIDs", "sid", certSID.String(), "issuer", cert.Issuer.String())
	}
	forms, err := AltSecIDsFor(cert)
	if err != nil {
		return certFacts{}, err
	}
	f := certFacts{upns: upns, sid: certSID, sidTrusted: sidTrusted, forms: forms, formValues: make([]string, len(forms))}
	for i, form := range forms {
		f.formValues[i] = form.String()
	}
	return f, nil
}

// locate runs each method of the policy's order and keeps those that found
// accounts. A directory that is a [Locator] is asked once for what every
// method and the name hint look for, and each then keeps the entries it
// matches; names is where the hint is looked up (that answer, or the
// directory).
func (m *Mapper) locate(ctx context.Context, f certFacts, hint Hint) (found []located, names nameLookup, err error) {
	lookup, names := m.lookup, nameLookup(m.dir)
	if loc, ok := m.dir.(Locator); ok {
		batch, err := m.locateOnce(ctx, loc, f, hint)
		if err != nil {
			return nil, nil, err
		}
		lookup, names = batch.lookup, batch
	}
	found, err = m.locateWith(ctx, f, lookup)
	return found, names, err
}

// locateWith runs each method with lookup.
func (m *Mapper) locateWith(ctx context.Context, f certFacts, lookup func(context.Context, Method, certFacts) ([]Entry, error)) ([]located, error) {
	var found []located
	for _, method := range m.policy.Order {
		if method == MethodSIDExtension && !f.sidTrusted {
			continue
		}
		entries, err := lookup(ctx, method, f)
		if err != nil {
			return nil, err
		}
		l := located{method: method}
		if method == MethodAltSecID && len(entries) > 0 && f.formFolds == nil {
			f.formFolds = make([]string, len(f.formValues))
			for i, v := range f.formValues {
				f.formFolds[i] = FoldValue(v)
			}
		}
		for _, e := range entries {
			a, err := DecodeAccount(e)
			if err != nil {
				return nil, err
			}
			if method == MethodAltSecID {
				form, ok := strongestMatch(a.AltSecIDs, f.forms, f.formFolds)
				if !ok {
					continue
				}
				if l.forms == nil {
					l.forms = map[string]AltSecID{}
				}
				l.forms[foldDN(a.DN)] = form
			}
			l.accounts = appendAccount(l.accounts, a)
		}
		if len(l.accounts) > 0 {
			found = append(found, l)
		}
	}
	return found, nil
}

// Locator is a [Directory] that finds, in one request, the user entries
// whose objectSid, altSecurityIdentities or userPrincipalName is one of a
// query's: what the certificate mapping methods look up one by one. Over
// LDAP that is one search where the methods cost one each.
type Locator interface {
	Locate(ctx context.Context, q LocateQuery) ([]Entry, error)
}

// GroupLister is a [Directory] that finds, in one request, the groups
// with any of several DNs as a member: what GroupsOf finds for each. The
// mapper asks it once per level of nesting, where GroupsOf costs one
// request per group the account is in (AD accounts are often in dozens).
// A group may come back more than once.
type GroupLister interface {
	GroupsOfAny(ctx context.Context, dns []string) ([]Entry, error)
}

// LocateQuery is what a [Locator] looks for: entries with any of these.
type LocateQuery struct {
	SID       *certs.SID // nil: none
	AltSecIDs []string   // altSecurityIdentities values, as FindByAltSecID takes them
	UPNs      []string
	// SAMAccountNames are names a hint may give (see Mapper.findHint).
	SAMAccountNames []string
}

// located entries of one Locate, which each method sorts out for itself.
type locatedOnce struct{ entries []Entry }

// locateOnce asks loc once for everything the policy's methods and the
// name hint look for.
func (m *Mapper) locateOnce(ctx context.Context, loc Locator, f certFacts, hint Hint) (locatedOnce, error) {
	q := hintQuery(hint)
	for _, method := range m.policy.Order {
		switch method {
		case MethodSIDExtension:
			if f.sidTrusted {
				sid := f.sid
				q.SID = &sid
			}
		case MethodAltSecID:
			q.AltSecIDs = f.formValues
		case MethodUPN:
			q.UPNs = append(q.UPNs, f.upns...)
		}
	}
	if q.SID == nil && len(q.AltSecIDs) == 0 && len(q.UPNs) == 0 && len(q.SAMAccountNames) == 0 {
		return locatedOnce{}, nil
	}
	entries, err := loc.Locate(ctx, q)
	if err != nil {
		return locatedOnce{}, fmt.Errorf("mapping: lookup: %w", err)
	}
	return locatedOnce{entries: entries}, nil
}

// lookup is [Mapper.lookup] over the entries of one Locate: those that
// match what method looks for, compared as the LDIF directory compares
// (the SID's octets; values folded by [FoldValue]).
func (o locatedOnce) lookup(ctx context.Context, method Method, f certFacts) ([]Entry, error) {
	var attr string
	want := map[string]bool{}
	switch method {
	case MethodSIDExtension:
		attr, want[string(f.sid.Marshal())] = AttrObjectSID, true
	case MethodAltSecID:
		attr = AttrAltSecurityIDs
		for _, v := range f.formValues {
			want[FoldValue(v)] = true
		}
	case MethodUPN:
		attr = AttrUPN
		for _, u := range f.upns {
			want[FoldValue(u)] = true
		}
	default:
		return nil, fmt.Errorf("mapping: unknown method %v in policy", method)
	}
	var out []Entry
	for _, e := range o.entries {
		for _, v := range e.Get(attr) {
			key := string(v)
			if method != MethodSIDExtension {
				key = FoldValue(key)
			}
			if want[key] {
				out = append(out, e)
				break
			}
		}
	}
	return out, ctx.Err()
}

// lookup asks the directory for the entries one method locates.
func (m *Mapper) lookup(ctx context.Context, method Method, f certFacts) ([]Entry, error) {
	var entries []Entry
	var err error
	switch method {
	case MethodSIDExtension:
		entries, err = m.dir.FindBySID(ctx, f.sid)
	case MethodAltSecID:
		entries, err = m.dir.FindByAltSecID(ctx, f.formValues)
	case MethodUPN:
		for _, u := range f.upns {
			var e []Entry
			if e, err = m.dir.FindByUPN(ctx, u); err != nil {
				break
			}
			entries = append(entries, e...)
		}
	default:
		return nil, fmt.Errorf("mapping: unknown method %v in policy", method)
	}
	if err != nil {
		return nil, fmt.Errorf("mapping: %v lookup: %w", method, err)
	}
	return entries, nil
}

// choose picks the one account: the hinted one when the client named it
// (and the certificate maps to it), else the only one located.
func (m *Mapper) choose(ctx context.Context, req Request, f certFacts, found []located, names nameLookup, log *mapLog) (Account, error) {
	var all []Account
	for _, l := range found {
		for _, a := range l.accounts {
			all = appendAccount(all, a)
		}
	}
	if req.Hint.Name != "" {
		target, err := m.findHint(ctx, req.Hint, names)
		if err != nil {
			return Account{}, err
		}
		if len(all) == 0 {
			return Account{}, fmt.Errorf("%w: no method located an account (the client asked for %q)", ErrNoMapping, req.Hint.Name)
		}
		if !containsAccount(all, target) {
			return Account{}, fmt.Errorf("%w: the certificate maps to %s, not to %q", ErrNameMismatch, dnList(all), req.Hint.Name)
		}
		if len(f.upns) > 0 && len(all) > 1 {
			log.at(slog.LevelError, "mapping: configuration error: a certificate with a UPN maps to several accounts", "accounts", dnList(all))
			return Account{}, fmt.Errorf("%w: the certificate carries UPN %q and maps to %s", ErrAmbiguous, f.upns[0], dnList(all))
		}
		return target, nil
	}
	if len(all) == 0 {
		return Account{}, fmt.Errorf("%w (tried %v)", ErrNoMapping, m.policy.Order)
	}
	if f.sidTrusted {
		for _, a := range all {
			if a.SID != f.sid {
				return Account{}, fmt.Errorf("%w: the certificate carries %s, %s has %s", ErrSIDMismatch, f.sid, a.DN, sidString(a.SID))
			}
		}
	}
	if len(all) > 1 {
		why := "different methods locate different accounts"
		for _, l := range found {
			if len(l.accounts) > 1 {
				why = fmt.Sprintf("%v locates several accounts; the client must name one", l.method)
				break
			}
		}
		log.at(slog.LevelError, "mapping: configuration error: "+why, "accounts", dnList(all))
		return Account{}, fmt.Errorf("%w: %s: %s", ErrAmbiguous, why, dnList(all))
	}
	return all[0], nil
}

// mappedBy says which methods located the chosen account and whether any
// of them is strong (KB5014754).
func mappedBy(found []located, chosen Account) *Result {
	res := &Result{Account: chosen}
	for _, l := range found {
		if !containsAccount(l.accounts, chosen) {
			continue
		}
		if res.Method == 0 {
			res.Method = l.method
		}
		res.Methods = append(res.Methods, l.method)
		switch l.method {
		case MethodSIDExtension:
			res.Strong = true
		case MethodAltSecID:
			f := l.forms[foldDN(chosen.DN)]
			res.AltSecID = &f
			res.Strong = res.Strong || f.Kind.Strong()
		}
	}
	return res
}

// enforce applies the SID check, KB5014754's enforcement mode and the
// account's own state to the chosen mapping.
func (m *Mapper) enforce(cert *x509.Certificate, f certFacts, res *Result, log *mapLog) error {
	chosen := res.Account
	if f.sidTrusted && chosen.SID != f.sid {
		log.at(slog.LevelWarn, "mapping: the certificate's SID names another account")
		return fmt.Errorf("%w: the certificate carries %s, %s has %s", ErrSIDMismatch, f.sid, chosen.DN, sidString(chosen.SID))
	}
	if !res.Strong {
		if err := m.enforceWeak(cert, res, log); err != nil {
			return err
		}
	}
	if chosen.Disabled {
		return fmt.Errorf("%w: %s", ErrAccountDisabled, chosen.DN)
	}
	if chosen.Expired(m.now()) {
		return fmt.Errorf("%w: %s expired %s", ErrAccountExpired, chosen.DN, chosen.Expires.Format(time.RFC3339))
	}
	return nil
}

// enforceWeak decides a weak mapping by the enforcement mode: refused in
// full mode, in compatibility mode only for a certificate older than the
// account (less the backdating allowance).
func (m *Mapper) enforceWeak(cert *x509.Certificate, res *Result, log *mapLog) error {
	chosen := res.Account
	switch m.policy.Enforcement {
	case EnforcementFull:
		log.at(slog.LevelWarn, "mapping: refused a weak mapping (full enforcement)")
		return fmt.Errorf("%w: %s maps only weakly (by %v) and enforcement is full; add a SID extension or a strong altSecurityIdentities mapping", ErrWeakMapping, chosen.DN, res.Method)
	case EnforcementCompatibility:
		if chosen.Created.IsZero() {
			log.at(slog.LevelWarn, "mapping: refused a weak mapping: the account's creation time is unknown")
			return fmt.Errorf("%w: %w: %s has no whenCreated to compare with", ErrWeakMapping, ErrCertPredatesAccount, chosen.DN)
		}
		if cert.NotBefore.Before(chosen.Created.Add(-m.policy.BackdatingAllowance)) {
			log.at(slog.LevelWarn, "mapping: refused a weak mapping: the certificate predates the account", "notBefore", cert.NotBefore, "created", chosen.Created)
			return fmt.Errorf("%w: %w: issued %s, %s created %s (allowance %s)", ErrWeakMapping, ErrCertPredatesAccount,
				cert.NotBefore.UTC().Format(time.RFC3339), chosen.DN, chosen.Created.UTC().Format(time.RFC3339), m.policy.BackdatingAllowance)
		}
		log.at(slog.LevelWarn, "mapping: accepted a weak mapping (compatibility mode)")
	}
	return nil
}

// trustsSID reports whether issuer is configured to assert SIDs.
func (m *Mapper) trustsSID(issuer *x509.Certificate) bool {
	if issuer == nil {
		return false
	}
	for _, ca := range m.policy.SIDTrustedCAs {
		if ca != nil && bytes.Equal(ca.Raw, issuer.Raw) {
			return true
		}
	}
	return false
}

// nameLookup is where a name hint is looked up: the directory, or the
// entries of one Locate.
type nameLookup interface {
	FindByUPN(ctx context.Context, upn string) ([]Entry, error)
	FindBySAMAccountName(ctx context.Context, name string) ([]Entry, error)
}

// hintNames are the names h is looked up by: `DOMAIN\name` and a bare name
// by sAMAccountName; "name@suffix" (or an enterprise name) by UPN, and when
// no account has that UPN and the suffix is the realm's (or unknown), by
// the sAMAccountName before the @ (fallback).
func hintNames(h Hint) (upn, sam string, fallback bool) {
	name := h.Name
	if i := strings.LastIndexByte(name, '\\'); i >= 0 && !h.Enterprise {
		return "", name[i+1:], false
	}
	if local, suffix, ok := strings.Cut(name, "@"); ok || h.Enterprise {
		fallback = ok && local != "" && (h.Realm == "" || strings.EqualFold(suffix, h.Realm))
		return name, local, fallback
	}
	return "", name, false
}

// hintQuery is what a Locate asks for the name hint h.
func hintQuery(h Hint) LocateQuery {
	var q LocateQuery
	if h.Name == "" {
		return q
	}
	upn, sam, fallback := hintNames(h)
	if upn != "" {
		q.UPNs = append(q.UPNs, upn)
	}
	if sam != "" && (upn == "" || fallback) {
		q.SAMAccountNames = append(q.SAMAccountNames, sam)
	}
	return q
}

// FindByUPN is [Directory.FindByUPN] over the entries of one Locate.
func (o locatedOnce) FindByUPN(ctx context.Context, upn string) ([]Entry, error) {
	return o.matching(ctx, AttrUPN, FoldValue(upn))
}

// FindBySAMAccountName is [Directory.FindBySAMAccountName] over them.
func (o locatedOnce) FindBySAMAccountName(ctx context.Context, name string) ([]Entry, error) {
	return o.matching(ctx, AttrSAMAccountName, FoldValue(name))
}

func (o locatedOnce) matching(ctx context.Context, attr, folded string) ([]Entry, error) {
	var out []Entry
	for _, e := range o.entries {
		for _, v := range e.Get(attr) {
			if FoldValue(string(v)) == folded {
				out = append(out, e)
				break
			}
		}
	}
	return out, ctx.Err()
}

// findHint locates the one account the client named.
func (m *Mapper) findHint(ctx context.Context, h Hint, names nameLookup) (Account, error) {
	var entries []Entry
	var err error
	upn, sam, fallback := hintNames(h)
	if upn != "" {
		entries, err = names.FindByUPN(ctx, upn)
	}
	if err == nil && len(entries) == 0 && (upn == "" || fallback) && sam != "" {
		entries, err = names.FindBySAMAccountName(ctx, sam)
	}
	if err != nil {
		return Account{}, fmt.Errorf("mapping: hint lookup: %w", err)
	}
	var accts []Account
	for _, e := range entries {
		a, err := DecodeAccount(e)
		if err != nil {
			return Account{}, err
		}
		accts = appendAccount(accts, a)
	}
	switch len(accts) {
	case 0:
		return Account{}, fmt.Errorf("%w: the client asked for %q, which names no account", ErrNoMapping, h.Name)
	case 1:
		return accts[0], nil
	}
	m.log.Error("mapping: configuration error: a client name names several accounts", "name", h.Name, "accounts", dnList(accts))
	return Account{}, fmt.Errorf("%w: %q names %s", ErrAmbiguous, h.Name, dnList(accts))
}

// groups returns the SIDs of a's groups, following nesting.
func (m *Mapper) groups(ctx context.Context, a Account) ([]certs.SID, error) {
	seen := map[string]bool{foldDN(a.DN): true}
	var sids []certs.SID
	have := map[certs.SID]bool{a.PrimaryGroupSID: true}
	level := []string{a.DN}
	for depth := 0; len(level) > 0 && depth < maxGroupNestingDepth; depth++ {
		var next []string
		entries, err := m.groupsOfLevel(ctx, level)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			key := foldDN(e.DN)
			if seen[key] {
				continue
			}
			seen[key] = true
			next = append(next, e.DN)
			v := e.Get(AttrObjectSID)
			if len(v) == 0 {
				continue
			}
			sid, err := certs.UnmarshalSID(v[0])
			if err != nil {
				return nil, fmt.Errorf("mapping: group %s: objectSid: %w", e.DN, err)
			}
			if !have[sid] {
				have[sid] = true
				sids = append(sids, sid)
			}
		}
		level = next
	}
	return sids, nil
}

// groupsOfLevel returns the groups with any of dns as a member: in one
// request when the directory is a [GroupLister] and there are several,
// else one per member.
func (m *Mapper) groupsOfLevel(ctx context.Context, dns []string) ([]Entry, error) {
	if gl, ok := m.dir.(GroupLister); ok && len(dns) > 1 {
		entries, err := gl.GroupsOfAny(ctx, dns)
		if err != nil {
			return nil, fmt.Errorf("mapping: groups of %s and %d more: %w", dns[0], len(dns)-1, err)
		}
		return entries, nil
	}
	var all []Entry
	for _, dn := range dns {
		entries, err := m.dir.GroupsOf(ctx, dn)
		if err != nil {
			return nil, fmt.Errorf("mapping: groups of %s: %w", dn, err)
		}
		all = append(all, entries...)
	}
	return all, nil
}

// strongestMatch returns the strongest of forms that one of stored matches:
// as a string, or parsed (AltSecID.Equal). folds[i] is
// FoldValue(forms[i].String()), which the caller computed once.
func strongestMatch(stored []string, forms []AltSecID, folds []string) (AltSecID, bool) {
	var best AltSecID
	ok := false
	for _, s := range stored {
		fs := FoldValue(s)
		fp, parsed := "", false
		if p, err := ParseAltSecID(s); err == nil {
			fp, parsed = FoldValue(p.String()), true
		}
		for i, f := range forms {
			if fs != folds[i] && (!parsed || fp != folds[i]) {
				continue
			}
			if !ok || (f.Kind.Strong() && !best.Kind.Strong()) {
				best, ok = f, true
			}
		}
	}
	return best, ok
}

func foldDN(dn string) string { return FoldValue(dn) }

func appendAccount(list []Account, a Account) []Account {
	if containsAccount(list, a) {
		return list
	}
	return append(list, a)
}

func containsAccount(list []Account, a Account) bool {
	for _, b := range list {
		if b.DN == a.DN || foldDN(b.DN) == foldDN(a.DN) {
			return true
		}
	}
	return false
}

func dnList(accts []Account) string {
	dns := make([]string, len(accts))
	for i, a := range accts {
		dns[i] = a.DN
	}
	return strings.Join(dns, "; ")
}

func sidString(s certs.SID) string {
	if s.IsZero() {
		return "no objectSid"
	}
	return s.String()
}
