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
// at most [Config.PoolSize]; each is bound once with a simple bind. A
// lookup that fails because its connection broke (the server restarted,
// the network dropped it) is retried once on a fresh connection, after the
// idle connections, which are likely broken too, are closed. Every lookup
// ends within [Config.Timeout] — dial, TLS, bind and search included —
// or its context's deadline, whichever comes first, with an error wrapping
// [mapping.ErrDirectoryUnavailable] when the server could not be reached.
//
// # Filters
//
// Every value from a certificate or a request goes through
// [goldap.EscapeFilter]; binary values (objectSid) are escaped byte by byte.
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
	"github.com/sclogon/sclogon/mapping"
)

// Defaults for zero Config fields.
const (
	DefaultTimeout   = 5 * time.Second
	DefaultPoolSize  = 4
	DefaultPageSize  = 500
	DefaultSizeLimit = 100
)

// Config says how to reach the directory.
type Config struct {
	// URL is ldap://host[:port], ldaps://host[:port] or ldapi://.
	URL string
	// BindDN and Password are the simple-bind credentials; an empty
	// BindDN searches anonymously.
	BindDN   string
	Password string
	// BaseDN is where searches start (the domain's naming context).
	BaseDN string
	// CAFile is a PEM file of CA certificates that verify the server's
	// certificate for ldaps:// and StartTLS; empty means the system roots.
	CAFile string
	// ServerName overrides the name checked in the server's certificate;
	// default the URL's host.
	ServerName string
	// StartTLS upgrades an ldap:// connection with the StartTLS extended
	// operation before binding.
	StartTLS bool
	// Timeout bounds each lookup; default DefaultTimeout.
	Timeout time.Duration
	// PoolSize is the most connections open at once; default DefaultPoolSize.
	PoolSize int
	// PageSize is the RFC 2696 page size for group searches; default DefaultPageSize.
	PageSize uint32
	// SizeLimit caps the entries an account search returns; default
	// DefaultSizeLimit. More than one is already ambiguous.
	SizeLimit int
}

// Directory is an LDAP-backed [mapping.Directory]. It is safe for
// concurrent use.
type Directory struct {
	cfg  Config
	tls  *tls.Config
	slot chan struct{}     // one token per connection that may be open
	idle chan *goldap.Conn // bound connections ready for use

	mu     sync.Mutex
	closed bool
}

// New checks cfg and returns a directory; it does not connect.
func New(cfg Config) (*Directory, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("mapping/ldap: bad URL %q: %w", cfg.URL, err)
	}
	switch u.Scheme {
	case "ldap", "ldaps", "ldapi":
	default:
		return nil, fmt.Errorf("mapping/ldap: URL %q: scheme must be ldap, ldaps or ldapi", cfg.URL)
	}
	if cfg.StartTLS && u.Scheme != "ldap" {
		return nil, fmt.Errorf("mapping/ldap: StartTLS needs an ldap:// URL, not %q", cfg.URL)
	}
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
	d := &Directory{
		cfg:  cfg,
		slot: make(chan struct{}, cfg.PoolSize),
		idle: make(chan *goldap.Conn, cfg.PoolSize),
	}
	if u.Scheme == "ldaps" || cfg.StartTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("mapping/ldap: CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("mapping/ldap: CA file %s holds no PEM certificate", cfg.CAFile)
			}
			tc.RootCAs = pool
		}
		d.tls = tc
	}
	return d, nil
}

// Close closes the idle connections; lookups after Close fail.
func (d *Directory) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.drainIdle()
	return nil
}

// Ping connects and binds, to check the configuration at startup.
func (d *Directory) Ping(ctx context.Context) error {
	return d.do(ctx, func(*goldap.Conn) error { return nil })
}

func (d *Directory) drainIdle() {
	for {
		select {
		case c := <-d.idle:
			c.Close()
		default:
			return
		}
	}
}

// unavailable wraps a connection-level failure.
func (d *Directory) unavailable(err error) error {
	return fmt.Errorf("%w: %s: %w", mapping.ErrDirectoryUnavailable, d.cfg.URL, err)
}

// dial opens and binds a new connection.
func (d *Directory) dial(ctx context.Context) (*goldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	opts := []goldap.DialOpt{goldap.DialWithDialer(dialer)}
	if d.tls != nil {
		opts = append(opts, goldap.DialWithTLSConfig(d.tls))
	}
	c, err := goldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, d.unavailable(err)
	}
	c.SetTimeout(d.cfg.Timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if d.cfg.StartTLS {
		if err := c.StartTLS(d.tls); err != nil {
			c.Close()
			return nil, d.unavailable(fmt.Errorf("StartTLS: %w", err))
		}
	}
	if d.cfg.BindDN != "" {
		if err := c.Bind(d.cfg.BindDN, d.cfg.Password); err != nil {
			c.Close()
			if ctx.Err() != nil || isNetwork(err) {
				return nil, d.unavailable(fmt.Errorf("bind: %w", err))
			}
			return nil, fmt.Errorf("mapping/ldap: bind as %s: %w", d.cfg.BindDN, err)
		}
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, d.unavailable(ctx.Err())
	}
	return c, nil
}

// do runs op on a pooled connection, retrying once on a fresh connection
// when a pooled one turns out to be broken.
func (d *Directory) do(ctx context.Context, op func(*goldap.Conn) error) error {
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
		return d.unavailable(fmt.Errorf("waiting for a pooled connection: %w", ctx.Err()))
	}
	defer func() { <-d.slot }()

	for attempt := 0; ; attempt++ {
		var c *goldap.Conn
		fresh := false
		select {
		case c = <-d.idle:
			if c.IsClosing() {
				c.Close()
				c = nil
			}
		default:
		}
		if c == nil {
			var err error
			if c, err = d.dial(ctx); err != nil {
				return err
			}
			fresh = true
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err := op(c)
		expired := !stop()
		if err == nil && !expired {
			select {
			case d.idle <- c:
			default:
				c.Close()
			}
			return nil
		}
		if !expired && !isNetwork(err) && !c.IsClosing() {
			// The server answered: the connection is fine, the request was not.
			select {
			case d.idle <- c:
			default:
				c.Close()
			}
			return err
		}
		c.Close()
		if expired || ctx.Err() != nil {
			return d.unavailable(fmt.Errorf("no answer within %s: %w", d.cfg.Timeout, err))
		}
		if fresh || attempt > 0 {
			return d.unavailable(err)
		}
		d.drainIdle()
	}
}

// isNetwork reports whether err is a connection failure rather than the
// server's answer. go-ldap flattens some read errors into plain strings, so
// anything that is not an LDAP result counts as a connection failure.
func isNetwork(err error) bool {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == goldap.ErrorNetwork || le.ResultCode == goldap.LDAPResultUnavailable
	}
	return true
}

// search runs a subtree search under BaseDN. With paged set it pages
// through every result; otherwise a size-limit overrun returns the entries
// received (more than one is enough for the mapper to refuse).
func (d *Directory) search(ctx context.Context, filter string, attrs []string, paged bool) ([]mapping.Entry, error) {
	var out []mapping.Entry
	err := d.do(ctx, func(c *goldap.Conn) error {
		req := goldap.NewSearchRequest(d.cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
			0, int(d.cfg.Timeout/time.Second)+1, false, filter, attrs, nil)
		var res *goldap.SearchResult
		var err error
		if paged {
			res, err = c.SearchWithPaging(req, d.cfg.PageSize)
		} else {
			req.SizeLimit = d.cfg.SizeLimit
			res, err = c.Search(req)
			if goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
				err = nil
			}
		}
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("mapping/ldap: base DN %s does not exist: %w", d.cfg.BaseDN, err)
		}
		if err != nil {
			return err
		}
		out = out[:0]
		for _, e := range res.Entries {
			out = append(out, toEntry(e))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, mapping.ErrDirectoryUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("mapping/ldap: search %s: %w", filter, err)
	}
	return out, nil
}

func toEntry(e *goldap.Entry) mapping.Entry {
	m := mapping.Entry{DN: e.DN, Attrs: map[string][][]byte{}}
	for _, a := range e.Attributes {
		name := strings.ToLower(a.Name)
		m.Attrs[name] = append(m.Attrs[name], a.ByteValues...)
	}
	return m
}

func (d *Directory) findUsers(ctx context.Context, assertion string) ([]mapping.Entry, error) {
	return d.search(ctx, "(&(objectClass=user)"+assertion+")", mapping.AccountAttributes, false)
}

func equality(attr, value string) string {
	return "(" + attr + "=" + goldap.EscapeFilter(value) + ")"
}

// FindByUPN implements [mapping.Directory].
func (d *Directory) FindByUPN(ctx context.Context, upn string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, equality(mapping.AttrUPN, upn))
}

// FindBySAMAccountName implements [mapping.Directory].
func (d *Directory) FindBySAMAccountName(ctx context.Context, name string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, equality(mapping.AttrSAMAccountName, name))
}

// FindBySID implements [mapping.Directory].
func (d *Directory) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	return d.findUsers(ctx, equality(mapping.AttrObjectSID, string(sid.Marshal())))
}

// FindByAltSecID implements [mapping.Directory].
func (d *Directory) FindByAltSecID(ctx context.Context, values []string) ([]mapping.Entry, error) {
	if len(values) == 0 {
		return nil, ctx.Err()
	}
	var b strings.Builder
	b.WriteString("(|")
	for _, v := range values {
		b.WriteString(equality(mapping.AttrAltSecurityIDs, v))
	}
	b.WriteString(")")
	return d.findUsers(ctx, b.String())
}

// GroupsOf implements [mapping.Directory]. Groups can be many: it pages.
func (d *Directory) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	return d.search(ctx, "(&(objectClass=group)"+equality(mapping.AttrMember, dn)+")",
		[]string{mapping.AttrObjectSID, mapping.AttrSAMAccountName}, true)
}
