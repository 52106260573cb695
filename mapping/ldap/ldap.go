// Package ldap is the LDAP backend of [mapping.Directory], for Active
// Directory or any LDAP server with AD's attributes (OpenLDAP with the AD
// mini schema in the tests).
//
// Call [New] with a [Config] and hand the result to [mapping.New]:
//
//	dir, err := ldap.New(ldap.Config{URL: "ldaps://dc1.example.com", BindDN: …, Password: …,
//		BaseDN: "dc=example,dc=com", CAFile: "/etc/sclogon/ca.pem"})
//	defer dir.Close()
//	mapper := mapping.New(dir, policy, mapping.Options{})
//
// # Connections
//
// New does not connect; the first lookup does. Connections live in a pool of
// at most [Config.PoolSize] in use at once; each is bound once with a simple
// bind. Every lookup ends within [Config.Timeout] — dial, TLS, bind and
// search included — or its context's deadline, whichever comes first, with
// an error wrapping [mapping.ErrDirectoryUnavailable] when no server could
// be reached.
//
// # Replicas
//
// [Config.Replicas] names more servers of the same directory, kept in step
// by the directory's own replication (several domain controllers, OpenLDAP
// providers under syncrepl). A lookup asks the servers in order of
// preference, [Config.URL] first, skipping those that failed lately: a
// server that fails (refuses the connection, drops it, does not answer in
// time) is asked again only after a backoff (1 s, doubling up to 30 s, see
// [Directory.Servers]) unless no other answers. A lookup whose pooled
// connection broke drops that server's idle connections, which are likely
// broken too, and asks again on a fresh connection, to the same server (it
// may have restarted) and then to the next. While another server is left to
// ask (one not backing off), an attempt gets half the time left, so that a
// server that hangs leaves time for the next.
//
// # Filters
//
// Filters are built from their parts ([Equal], [Present]), never from
// strings: a value from a certificate or a request is sent as the
// assertion's value, so no escaping can be missed.
//
// # Wire
//
// The connections speak LDAP through internal/ldapwire, one request at a
// time on the caller's goroutine.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/internal/ldapwire"
	"github.com/sclogon/sclogon/mapping"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultPoolSize  = 4
	DefaultPageSize  = 500
	DefaultSizeLimit = 100
)

// The backoff of a failed server: it is asked again after minBackoff, then
// twice as long after each further failure, up to maxBackoff.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// Config says how to reach the directory.
type Config struct {
	// URL is ldap://host[:port], ldaps://host[:port] or ldapi://: the
	// server asked first.
	URL string
	// Replicas are more servers of the same directory, in the same URL
	// forms, asked in this order when the ones before them fail. They take
	// the same credentials, TLS settings and BaseDN as URL.
	Replicas []string
	// BindDN and Password are the simple-bind credentials; an empty
	// BindDN searches anonymously.
	BindDN   string
	Password string
	// BaseDN is where searches start (the domain's naming context).
	BaseDN string
	// CAFile is a PEM file of CA certificates that verify the server's
	// certificate for ldaps:// and StartTLS; empty means the system roots.
	CAFile string
	// ServerName overrides the name checked in the servers' certificates;
	// default each URL's host.
	ServerName string
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation before binding.
	StartTLS bool
	// Timeout bounds each lookup; default DefaultTimeout.
	Timeout time.Duration
	// PoolSize is the most connections in use at once; default DefaultPoolSize.
	PoolSize int
	// PageSize is the RFC 2696 page size for group searches; default DefaultPageSize.
	PageSize uint32
	// SizeLimit caps the entries an account search returns; default
	// DefaultSizeLimit. More than one is already ambiguous.
	SizeLimit int
	// Now is the clock of the servers' backoff; default time.Now.
	Now func() time.Time
}

// Directory is an LDAP-backed [mapping.Directory]. It is safe for
// concurrent use.
type Directory struct {
	cfg     Config
	servers []*server     // URL, then the replicas: the order of preference
	slot    chan struct{} // one token per connection that may be in use

	mu     sync.Mutex // guards closed and the servers' failures and retryAt
	closed bool
}

// server is one server of the directory and its idle connections.
type server struct {
	url    string
	scheme string // ldap, ldaps or ldapi
	addr   string // host:port, or the ldapi socket's path
	tls    *tls.Config
	idle   chan *ldapwire.Conn // bound connections ready for use

	failures int       // consecutive failures; 0 while it answers
	retryAt  time.Time // while failing, asked before this only when no other answers
}

// ServerState is what a [Directory] knows of one of its servers.
type ServerState struct {
	URL string
	// Failures counts the failures since the server last answered: 0 for a
	// server that answers. Failures within one backoff count once.
	Failures int
	// RetryAt is, while Failures > 0, the time before which the server is
	// asked only when no other answers.
	RetryAt time.Time
}

// New checks cfg and returns a directory; it does not connect.
func New(cfg Config) (*Directory, error) {
	if cfg.BaseDN == "" {
		return nil, errors.New("mapping/ldap: no BaseDN")
	}
	if _, err := goldap.ParseDN(cfg.BaseDN); err != nil {
		return nil, fmt.Errorf("mapping/ldap: bad BaseDN %q: %w", cfg.BaseDN, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.SizeLimit <= 0 {
		cfg.SizeLimit = DefaultSizeLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mapping/ldap: CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mapping/ldap: CA file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	d := &Directory{cfg: cfg, slot: make(chan struct{}, cfg.PoolSize)}
	for _, raw := range append([]string{cfg.URL}, cfg.Replicas...) {
		s, err := newServer(cfg, raw, roots)
		if err != nil {
			return nil, err
		}
		d.servers = append(d.servers, s)
	}
	return d, nil
}

// newServer checks one URL of cfg.
func newServer(cfg Config, raw string, roots *x509.CertPool) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mapping/ldap: bad URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "ldap", "ldaps", "ldapi":
	default:
		return nil, fmt.Errorf("mapping/ldap: URL %q: scheme must be ldap, ldaps or ldapi", raw)
	}
	if cfg.StartTLS && u.Scheme != "ldap" {
		return nil, fmt.Errorf("mapping/ldap: StartTLS needs an ldap:// URL, not %q", raw)
	}
	s := &server{url: raw, scheme: u.Scheme, addr: serverAddr(u), idle: make(chan *ldapwire.Conn, cfg.PoolSize)}
	if u.Scheme == "ldaps" || cfg.StartTLS {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName, RootCAs: roots}
		if s.tls.ServerName == "" {
			s.tls.ServerName = u.Hostname()
		}
	}
	return s, nil
}

// serverAddr is where u's server listens: host:port with the scheme's
// port by default, or for ldapi the socket's path, from the host or the
// path, slapd's default when both are empty.
func serverAddr(u *url.URL) string {
	switch u.Scheme {
	case "ldapi":
		for _, p := range []string{u.Host, u.Path} {
			if p != "" && p != "/" { // ldapi:/// is the default socket, as for ldapsearch
				return p
			}
		}
		return "/var/run/slapd/ldapi"
	case "ldaps":
		if u.Port() == "" {
			return net.JoinHostPort(u.Hostname(), "636")
		}
	default:
		if u.Port() == "" {
			return net.JoinHostPort(u.Hostname(), "389")
		}
	}
	return u.Host
}

// Close closes the idle connections; lookups after Close fail.
func (d *Directory) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	for _, s := range d.servers {
		s.drainIdle()
	}
	return nil
}

// Ping connects and binds, to check the configuration at startup.
func (d *Directory) Ping(ctx context.Context) error {
	return d.do(ctx, func(*ldapwire.Conn) error { return nil })
}

// Servers reports the state of each server, in order of preference.
func (d *Directory) Servers() []ServerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]ServerState, len(d.servers))
	for i, s := range d.servers {
		out[i] = ServerState{URL: s.url, Failures: s.failures, RetryAt: s.retryAt}
	}
	return out
}

func (s *server) takeIdle() *ldapwire.Conn {
	for {
		select {
		case c := <-s.idle:
			if !c.Broken() {
				return c
			}
			c.Close()
		default:
			return nil
		}
	}
}

func (s *server) putIdle(c *ldapwire.Conn) {
	select {
	case s.idle <- c:
	default:
		c.Close()
	}
}

func (s *server) drainIdle() {
	for {
		select {
		case c := <-s.idle:
			c.Close()
		default:
			return
		}
	}
}

// failed records a failure of s. Failures while s is already backing off
// are the same outage (many lookups see it at once) and count once.
func (d *Directory) failed(s *server) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	if s.failures > 0 && now.Before(s.retryAt) {
		return
	}
	s.failures++
	s.retryAt = now.Add(min(minBackoff<<min(s.failures-1, 16), maxBackoff))
}

// answered records that s answers again.
func (d *Directory) answered(s *server) {
	d.mu.Lock()
	s.failures = 0
	d.mu.Unlock()
}

// dial opens and binds a new connection to s. A network failure comes back
// as is; a bind the server refuses comes back wrapped in [answerError].
func (d *Directory) dial(ctx context.Context, s *server) (*ldapwire.Conn, error) {
	nc, err := d.connect(ctx, s)
	if err != nil {
		return nil, err
	}
	c := ldapwire.NewConn(nc)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if d.cfg.StartTLS {
		if err := c.StartTLS(s.tls); err != nil {
			c.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if d.cfg.BindDN != "" {
		if err := c.Bind(d.cfg.BindDN, d.cfg.Password); err != nil {
			c.Close()
			if ctx.Err() != nil || isNetwork(err) {
				return nil, fmt.Errorf("bind: %w", err)
			}
			return nil, answerError{fmt.Errorf("mapping/ldap: bind as %s at %s: %w", d.cfg.BindDN, s.url, err)}
		}
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, ctx.Err()
	}
	return c, nil
}

// connect opens the transport to s: TCP, TLS over TCP for ldaps://, or
// the Unix socket of ldapi:// (the URL's host or path, or slapd's default).
func (d *Directory) connect(ctx context.Context, s *server) (net.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	switch s.scheme {
	case "ldapi":
		return dialer.DialContext(ctx, "unix", s.addr)
	case "ldaps":
		nc, err := dialer.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, err
		}
		t := tls.Client(nc, s.tls)
		if err := t.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		return t, nil
	}
	return dialer.DialContext(ctx, "tcp", s.addr)
}

// answerError is a server's refusal while connecting (a bad bind): the
// server works, and its replicas would say the same.
type answerError struct{ err error }

func (e answerError) Error() string { return e.err.Error() }
func (e answerError) Unwrap() error { return e.err }

// lookup is one call of do: how each server fared in it.
type lookup struct {
	d      *Directory
	pooled map[*server]bool // a pooled connection of the server was tried
	down   map[*server]bool // the server failed: not asked again
	errs   []error          // each failure, naming its server
}

// next is the server to ask next: the most preferred of those that have
// not failed in this lookup, those backing off last. nil: none is left.
func (lk *lookup) next() *server {
	d := lk.d
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	var later *server
	for _, s := range d.servers {
		if lk.down[s] {
			continue
		}
		if s.failures == 0 || !now.Before(s.retryAt) {
			return s
		}
		if later == nil {
			later = s
		}
	}
	return later
}

// others reports whether a server besides s is worth leaving time for: one
// that has not failed in this lookup and is not backing off.
func (lk *lookup) others(s *server) bool {
	d := lk.d
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, o := range d.servers {
		if o != s && !lk.down[o] && (o.failures == 0 || !now.Before(o.retryAt)) {
			return true
		}
	}
	return false
}

func (lk *lookup) fail(s *server, err error) {
	lk.errs = append(lk.errs, fmt.Errorf("%s: %w", s.url, err))
}

// unavailable is the lookup's end when no server answered.
func (lk *lookup) unavailable() error {
	return fmt.Errorf("%w: %w", mapping.ErrDirectoryUnavailable, serverErrors(lk.errs))
}

// serverErrors are the failures of a lookup, one line.
type serverErrors []error

func (e serverErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e serverErrors) Unwrap() []error { return e }

// do runs op on a pooled connection, asking the servers as the package
// documentation says, until one answers, every one failed or the time is up.
func (d *Directory) do(ctx context.Context, op func(*ldapwire.Conn) error) error {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errors.New("mapping/ldap: directory is closed")
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	select {
	case d.slot <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %s: waiting for a pooled connection: %w", mapping.ErrDirectoryUnavailable, d.cfg.URL, ctx.Err())
	}
	defer func() { <-d.slot }()

	lk := &lookup{d: d, pooled: map[*server]bool{}, down: map[*server]bool{}}
	for {
		s := lk.next()
		if s == nil {
			return lk.unavailable()
		}
		if done, err := d.attempt(ctx, lk, s, op); done {
			return err
		}
		if ctx.Err() != nil {
			return lk.unavailable()
		}
	}
}

// attempt asks s once, on a pooled connection of its or a new one. done
// says the lookup ends with err; otherwise lk says what failed.
func (d *Directory) attempt(ctx context.Context, lk *lookup, s *server, op func(*ldapwire.Conn) error) (done bool, err error) {
	if lk.others(s) {
		// Leave time for the others.
		if dl, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
			defer cancel()
		}
	}
	var c *ldapwire.Conn
	if !lk.pooled[s] {
		c = s.takeIdle()
		lk.pooled[s] = c != nil
	}
	fresh := c == nil
	if fresh {
		if c, err = d.dial(ctx, s); err != nil {
			var refused answerError
			if errors.As(err, &refused) {
				return true, refused.err
			}
			d.down(ctx, lk, s, err)
			return false, nil
		}
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = op(c)
	expired := !stop()
	if !expired && (err == nil || !isNetwork(err)) {
		// The server answered. The connection is fine, whatever the
		// answer, unless the answer was too large to read to its end.
		if c.Broken() {
			c.Close()
		} else {
			s.putIdle(c)
		}
		d.answered(s)
		return true, err
	}
	c.Close()
	if expired {
		err = fmt.Errorf("no answer in time: %w", err)
	}
	if fresh || expired {
		d.down(ctx, lk, s, err)
	} else {
		// A broken pooled connection: the others are likely broken too.
		lk.fail(s, err)
		s.drainIdle()
	}
	return false, nil
}

// down records that s failed in this lookup, and starts or extends its
// backoff unless the caller gave up: a cancelled lookup says nothing of the
// server.
func (d *Directory) down(ctx context.Context, lk *lookup, s *server, err error) {
	lk.down[s] = true
	lk.fail(s, err)
	if !errors.Is(ctx.Err(), context.Canceled) {
		d.failed(s)
	}
}

// isNetwork reports whether err is a connection failure rather than the
// server's answer: anything that is not an LDAP result (a network error, a
// malformed reply) counts as a connection failure, and so does a server
// that answers that it is unavailable (see [ldapwire.Answered]).
func isNetwork(err error) bool {
	var le *ldapwire.Error
	if errors.As(err, &le) {
		return le.Code == ldapwire.Unavailable
	}
	return !ldapwire.Answered(err)
}

// search runs a subtree search under BaseDN. With paged set it pages
// through every result; otherwise a size-limit overrun returns the entries
// received (more than one is enough for the mapper to refuse).
func (d *Directory) search(ctx context.Context, filter Filter, attrs []string, paged bool) ([]mapping.Entry, error) {
	req := &ldapwire.SearchRequest{Base: d.cfg.BaseDN, Scope: ldapwire.ScopeSubtree, Filter: filter, Attrs: attrs}
	if paged {
		req.PageSize = d.cfg.PageSize
	} else {
		req.SizeLimit = d.cfg.SizeLimit
	}
	out, err := d.run(ctx, req)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, mapping.ErrDirectoryUnavailable):
		return nil, err
	case ldapwire.IsCode(err, ldapwire.NoSuchObject):
		return nil, fmt.Errorf("mapping/ldap: base DN %s does not exist: %w", d.cfg.BaseDN, err)
	}
	return nil, fmt.Errorf("mapping/ldap: search %s: %w", filter, err)
}

// run runs req on a pooled connection, within the lookup's time, and
// returns its entries. A request with a SizeLimit that the server says it
// exceeded returns the entries up to it.
func (d *Directory) run(ctx context.Context, req *ldapwire.SearchRequest) ([]mapping.Entry, error) {
	req.TimeLimit = int(d.cfg.Timeout/time.Second) + 1
	var out []mapping.Entry
	err := d.do(ctx, func(c *ldapwire.Conn) error {
		res, err := c.Search(req)
		if req.SizeLimit > 0 && ldapwire.IsCode(err, ldapwire.SizeLimitExceeded) {
			err = nil
		}
		if err != nil {
			return err
		}
		out = toEntries(out[:0], res)
		return nil
	})
	return out, err
}

// toEntries appends es to out as the mapper's entries: attribute names in
// lower case, the values of one name (in any case) together.
func toEntries(out []mapping.Entry, es []ldapwire.Entry) []mapping.Entry {
	for _, e := range es {
		m := mapping.Entry{DN: e.DN, Attrs: make(map[string][][]byte, len(e.Attrs))}
		for _, a := range e.Attrs {
			name := strings.ToLower(a.Name)
			m.Attrs[name] = append(m.Attrs[name], a.Values...)
		}
		out = append(out, m)
	}
	return out
}

// Filter is a search filter, built from its parts.
type Filter = ldapwire.Filter

// Equal is the filter (attr=value), value sent as it is.
func Equal(attr, value string) Filter { return ldapwire.EqualString(attr, value) }

// Present is the filter (attr=*).
func Present(attr string) Filter { return ldapwire.Present(attr) }

func (d *Directory) findUsers(ctx context.Context, assertion Filter) ([]mapping.Entry, error) {
	return d.search(ctx, ldapwire.And(Equal(mapping.AttrObjectClass, "user"), assertion), mapping.AccountAttributes, false)
}

// FindByUPN implements [mapping.Directory].
func (d *Directory) FindByUPN(ctx context.Context, upn string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, Equal(mapping.AttrUPN, upn))
}

// FindBySAMAccountName implements [mapping.Directory].
func (d *Directory) FindBySAMAccountName(ctx context.Context, name string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, Equal(mapping.AttrSAMAccountName, name))
}

// FindBySID implements [mapping.Directory].
func (d *Directory) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	return d.findUsers(ctx, ldapwire.Equal(mapping.AttrObjectSID, sid.Marshal()))
}

// FindByAltSecID implements [mapping.Directory].
func (d *Directory) FindByAltSecID(ctx context.Context, values []string) ([]mapping.Entry, error) {
	if len(values) == 0 {
		return nil, ctx.Err()
	}
	alts := make([]Filter, len(values))
	for i, v := range values {
		alts[i] = Equal(mapping.AttrAltSecurityIDs, v)
	}
	return d.findUsers(ctx, ldapwire.Or(alts...))
}

// Locate implements [mapping.Locator]: one search for the user entries
// with any of q's SID, altSecurityIdentities values, UPNs or
// sAMAccountNames, where the mapping methods and the name hint would make
// one each.
func (d *Directory) Locate(ctx context.Context, q mapping.LocateQuery) ([]mapping.Entry, error) {
	var ors []Filter
	if q.SID != nil {
		ors = append(ors, ldapwire.Equal(mapping.AttrObjectSID, q.SID.Marshal()))
	}
	for _, v := range q.AltSecIDs {
		ors = append(ors, Equal(mapping.AttrAltSecurityIDs, v))
	}
	for _, u := range q.UPNs {
		ors = append(ors, Equal(mapping.AttrUPN, u))
	}
	for _, n := range q.SAMAccountNames {
		ors = append(ors, Equal(mapping.AttrSAMAccountName, n))
	}
	if len(ors) == 0 {
		return nil, ctx.Err()
	}
	return d.findUsers(ctx, ldapwire.Or(ors...))
}

// membersPerSearch bounds the member DNs of one GroupsOfAny search, so
// that a filter stays a few kilobytes long however many groups an account
// is in.
const membersPerSearch = 64

// GroupsOfAny implements [mapping.GroupLister]: one search for the groups
// of up to membersPerSearch DNs, paged, where GroupsOf makes one per DN.
func (d *Directory) GroupsOfAny(ctx context.Context, dns []string) ([]mapping.Entry, error) {
	var out []mapping.Entry
	for len(dns) > 0 {
		n := min(len(dns), membersPerSearch)
		members := make([]Filter, n)
		for i, dn := range dns[:n] {
			members[i] = Equal(mapping.AttrMember, dn)
		}
		entries, err := d.search(ctx, ldapwire.And(Equal(mapping.AttrObjectClass, "group"), ldapwire.Or(members...)),
			groupAttributes, true)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
		dns = dns[n:]
	}
	return out, nil
}

// groupAttributes are what the mapper reads of a group.
var groupAttributes = []string{mapping.AttrObjectSID, mapping.AttrSAMAccountName}

// GroupsOf implements [mapping.Directory]. Groups can be many: it pages.
func (d *Directory) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	return d.search(ctx, ldapwire.And(Equal(mapping.AttrObjectClass, "group"), Equal(mapping.AttrMember, dn)),
		groupAttributes, true)
}
