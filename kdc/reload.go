package kdc

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader is the [Handler] of a KDC that reloads its configuration file
// without a restart (on SIGHUP, in sclogon kdc). [Reloader.Reload] reads
// the file again — with it the NTAuth store, the LDIF directory or the LDAP
// settings, the keys — and makes a new KDC, which answers the requests
// that arrive from then on. A request keeps the KDC it started with to its
// end; the old KDC's directory is closed once its last request is done.
//
// A file that does not load or does not make a KDC is refused, as is one
// that changes what is set up only at start-up (see [RestartNeededError]):
// the KDC loaded before serves on, and the refusal is logged with its
// reason.
//
// What a reload must not lose is carried over: the audit log and the
// [Metrics] that count its lines, the replay cache (or a request replayed
// across a reload would be taken), and the OCSP client's cache and the
// certificates it has seen revoked, while the OCSP settings stay the same.
type Reloader struct {
	load    func() (*FileConfig, error)
	opts    Options
	log     *slog.Logger
	metrics *Metrics

	mu  sync.Mutex // one reload at a time
	cur atomic.Pointer[snapshot]

	reloadsOK, reloadsFailed atomic.Uint64
}

// snapshot is one loaded configuration and the KDC made from it: never
// changed once made, swapped whole by a reload.
type snapshot struct {
	fc  *FileConfig
	kdc *KDC

	users   atomic.Int64 // requests using it now
	retired atomic.Bool  // a newer one has replaced it
	drained chan struct{}
	once    sync.Once
}

func newSnapshot(fc *FileConfig, k *KDC) *snapshot {
	return &snapshot{fc: fc, kdc: k, drained: make(chan struct{})}
}

// release ends a use; the last use of a retired snapshot drains it.
func (s *snapshot) release() {
	if s.users.Add(-1) == 0 && s.retired.Load() {
		s.once.Do(func() { close(s.drained) })
	}
}

// retire marks s replaced; drained closes when no request uses it.
func (s *snapshot) retire() {
	s.retired.Store(true)
	if s.users.Load() == 0 {
		s.once.Do(func() { close(s.drained) })
	}
}

// NewReloader makes the KDC of fc with opts, as [New] does; load reads the
// configuration again on [Reloader.Reload] (such as a closure over
// [LoadConfigWith]). opts.Audit receives the audit log for the life of the
// Reloader.
func NewReloader(fc *FileConfig, load func() (*FileConfig, error), opts Options) (*Reloader, error) {
	m := NewMetrics()
	next := opts.OCSPHTTP
	if next == nil {
		next = http.DefaultClient
	}
	opts.OCSPHTTP = ocspDoer{next: next, m: m}
	opts.metrics = m
	k, err := New(fc.Config, opts)
	if err != nil {
		closeReplaced(fc.Config, Config{})
		return nil, err
	}
	k.audit.observe = m.observe
	// Later KDCs write through the first one's audit log.
	opts.Audit = nil
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{load: load, opts: opts, log: opts.Log, metrics: m}
	r.cur.Store(newSnapshot(fc, k))
	return r, nil
}

// acquire returns the current snapshot, counted as in use until released.
// The second look closes the race with a reload that retires the snapshot
// between the load and the count: such a use is given up, not served.
func (r *Reloader) acquire() *snapshot {
	for {
		s := r.cur.Load()
		s.users.Add(1)
		if r.cur.Load() == s {
			return s
		}
		s.release()
	}
}

// ServeKerberos answers one message with the current KDC; it implements
// [Handler].
func (r *Reloader) ServeKerberos(ctx context.Context, msg []byte, from netip.AddrPort, network string) []byte {
	s := r.acquire()
	defer s.release()
	return s.kdc.ServeKerberos(ctx, msg, from, network)
}

// KDC is the KDC answering new requests now.
func (r *Reloader) KDC() *KDC { return r.cur.Load().kdc }

// Config is the configuration the current KDC was made from.
func (r *Reloader) Config() *FileConfig { return r.cur.Load().fc }

// Metrics are the counters behind the audit log's lines.
func (r *Reloader) Metrics() *Metrics { return r.metrics }

// Reload reads the configuration again and, if it makes a KDC and changes
// nothing that needs a restart, serves new requests with that KDC. On
// error the KDC loaded before serves on; the error is also logged.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	old := r.cur.Load()
	next, err := r.build(old)
	if err != nil {
		r.reloadsFailed.Add(1)
		r.log.Error("kdc: reload refused; the configuration loaded before serves on", "err", err)
		return err
	}
	r.cur.Store(next)
	replaced := old.kdc.ocsp
	if replaced != nil && replaced != next.kdc.ocsp {
		r.metrics.replacingChecker(replaced)
	}
	r.reloadsOK.Add(1)
	r.log.Info("kdc: configuration reloaded", "took", time.Since(start).Round(time.Millisecond),
		"ntauth_cas", len(next.fc.NTAuth), "services", len(next.fc.Services))
	go func() {
		old.retire()
		<-old.drained
		if replaced != nil && replaced != next.kdc.ocsp {
			r.metrics.retiredChecker(replaced)
		}
		closeReplaced(old.fc.Config, next.fc.Config)
	}()
	return nil
}

// build makes the snapshot a reload would serve with.
func (r *Reloader) build(old *snapshot) (*snapshot, error) {
	fc, err := r.load()
	if err != nil {
		return nil, err
	}
	if changes := restartChanges(old.fc, fc); len(changes) > 0 {
		closeReplaced(fc.Config, old.fc.Config)
		return nil, &RestartNeededError{Changes: changes}
	}
	k, err := New(fc.Config, r.opts)
	if err != nil {
		closeReplaced(fc.Config, old.fc.Config)
		return nil, err
	}
	k.inherit(old.kdc)
	return newSnapshot(fc, k), nil
}

// inherit takes over from old what must outlive a reload (see [Reloader]).
func (k *KDC) inherit(old *KDC) {
	k.audit, k.replay, k.errLog = old.audit, old.replay, old.errLog
	if k.ocsp != nil && old.ocsp != nil && k.cfg.OCSP == old.cfg.OCSP && k.cfg.OCSPPolicy == old.cfg.OCSPPolicy {
		k.ocsp = old.ocsp
	}
}

// Close closes the current KDC's directory; call it once the server has
// stopped.
func (r *Reloader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cur.Load().fc.Directory.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// closeReplaced closes the directory of c (its LDAP connections) unless
// keep uses the same one. Keys are left open: the program that opens a card
// key keeps it for its lifetime (a card's PIN is not asked again on reload).
func closeReplaced(c, keep Config) {
	if cl, ok := c.Directory.(io.Closer); ok && c.Directory != keep.Directory {
		_ = cl.Close()
	}
}

// RestartNeededError refuses a reload that changes a setting the KDC sets
// up once, at start-up.
type RestartNeededError struct {
	// Changes name each setting and why it needs a restart.
	Changes []string
}

func (e *RestartNeededError) Error() string {
	return "kdc: reload: " + strings.Join(e.Changes, "; ") + "; restart the KDC to apply the new configuration (systemctl restart sclogon-kdc)"
}

// restartChanges lists what differs between old and fc that a reload
// cannot apply, each with the reason.
func restartChanges(old, fc *FileConfig) []string {
	var out []string
	if old.Realm != fc.Realm {
		out = append(out, fmt.Sprintf("realm changed (%s → %s): every key and ticket names the realm", old.Realm, fc.Realm))
	}
	if !slices.Equal(old.Listen, fc.Listen) {
		out = append(out, fmt.Sprintf("listen changed (%s → %s): the KDC binds its sockets at start-up, while it may still bind port 88",
			strings.Join(old.Listen, " "), strings.Join(fc.Listen, " ")))
	}
	if old.HTTPListen != fc.HTTPListen {
		out = append(out, fmt.Sprintf("http_listen changed (%q → %q): the HTTP endpoint is bound at start-up", old.HTTPListen, fc.HTTPListen))
	}
	if old.AuditLog != fc.AuditLog {
		out = append(out, fmt.Sprintf("audit_log changed (%q → %q): the audit log is opened at start-up", old.AuditLog, fc.AuditLog))
	}
	if old.serverSettings() != fc.serverSettings() {
		out = append(out, "the server's limits changed (max_request_size, request_timeout, max_tcp_connections, max_tcp_connections_per_source, tcp_idle_timeout, tcp_header_timeout or error_rate_per_source): the server fixes them when it starts")
	}
	return out
}

// serverSettings are the [Server]'s settings from the file.
type serverSettings struct {
	maxRequest, maxConns, maxConnsPerSource    int
	requestTimeout, idleTimeout, headerTimeout time.Duration
	errorRate                                  float64
}

func (fc *FileConfig) serverSettings() serverSettings {
	return serverSettings{fc.MaxRequest, fc.MaxTCPConns, fc.MaxTCPConnsPerSource,
		fc.RequestTimeout, fc.TCPIdleTimeout, fc.TCPHeaderTimeout, fc.ErrorRatePerSource}
}
