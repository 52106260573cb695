// Package transport finds a realm's KDCs and exchanges one Kerberos message
// with them, the way MIT's library does.
//
// Call [Locate] for the KDC list ([realms] kdc in krb5.conf, else DNS SRV
// records), then [Client.Exchange] with the encoded request. Exchange tries
// each KDC in order with a per-KDC timeout, prefers TCP for requests larger than
// the UDP preference limit (PKINIT requests always are), falls back from UDP to
// TCP when a KDC answers KRB_ERR_RESPONSE_TOO_BIG, and honours the context.
// A KDC that did not answer one exchange is asked after the others in the
// next exchanges of the same Client (one command: the AS exchange, then the
// TGS), so that a logon pays a dead KDC's timeouts once, not per message.
package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/krberror"
)

// KDC is one KDC to try.
type KDC struct {
	Addr string // host:port
	// Network restricts the transport: "tcp", "udp", or "" for either.
	Network string
}

func (k KDC) String() string {
	if k.Network == "" {
		return k.Addr
	}
	return k.Network + "/" + k.Addr
}

// Resolver looks up SRV records; *net.Resolver is one.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// DefaultPort is the Kerberos port (RFC 4120 §7.2.1).
const DefaultPort = 88

// ErrNoKDC means neither the configuration nor DNS names a KDC for the realm.
var ErrNoKDC = errors.New("transport: no KDC known for the realm")

// Locate lists realm's KDCs: the [realms] kdc relations of conf (MIT syntax:
// host, host:port, [v6]:port, optionally prefixed tcp/ or udp/), else, when
// dns_lookup_kdc allows it (MIT's default: yes), the SRV records
// _kerberos._tcp.REALM and _kerberos._udp.REALM in priority order.
func Locate(ctx context.Context, conf *krb5conf.Config, realm string, r Resolver) ([]KDC, error) {
	var kdcs []KDC
	for _, v := range conf.Values("realms", realm, "kdc") {
		k, err := parseKDC(v)
		if err != nil {
			return nil, err
		}
		kdcs = append(kdcs, k)
	}
	if len(kdcs) > 0 {
		return kdcs, nil
	}
	if !conf.RealmBool(realm, "dns_lookup_kdc", true) || r == nil {
		return nil, fmt.Errorf("%w %s: add \"kdc = HOST\" under [realms] %s in krb5.conf", ErrNoKDC, realm, realm)
	}
	var errs []error
	for _, proto := range []string{"tcp", "udp"} {
		_, srvs, err := r.LookupSRV(ctx, "kerberos", proto, realm)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, s := range srvs {
			if s.Target == "." { // "service not available here" (RFC 2782)
				continue
			}
			kdcs = append(kdcs, KDC{Addr: net.JoinHostPort(strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Port))), Network: proto})
		}
	}
	if len(kdcs) == 0 {
		return nil, fmt.Errorf("%w %s: no kdc in krb5.conf and no _kerberos SRV records: %w", ErrNoKDC, realm, errors.Join(errs...))
	}
	return kdcs, nil
}

func parseKDC(v string) (KDC, error) {
	var k KDC
	switch {
	case strings.HasPrefix(v, "tcp/"):
		k.Network, v = "tcp", v[4:]
	case strings.HasPrefix(v, "udp/"):
		k.Network, v = "udp", v[4:]
	case strings.Contains(v, "://"):
		return k, fmt.Errorf("transport: kdc %q: HTTPS (MS-KKDCP) KDCs are not supported", v)
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		// No port: a bare host or a bracketed IPv6 address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]"), strconv.Itoa(DefaultPort)
	}
	if host == "" {
		return k, fmt.Errorf("transport: kdc %q: no host", v)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return k, fmt.Errorf("transport: kdc %q: bad port", v)
	}
	k.Addr = net.JoinHostPort(host, port)
	return k, nil
}

// Dialer opens connections; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client exchanges messages with KDCs. The zero value is ready to use; it
// is safe for concurrent use, and remembers the KDCs that did not answer
// for its life.
type Client struct {
	Dialer Dialer
	// Timeout bounds each attempt at one KDC (default 3 s).
	Timeout time.Duration
	// UDPPreferenceLimit: requests longer than this go over TCP first
	// (MIT's udp_preference_limit, default 1465).
	UDPPreferenceLimit int
	// MaxReply bounds a TCP reply's length (default 1 MiB).
	MaxReply int
	// Trace, when set, is told of each attempt (for -V).
	Trace func(format string, args ...any)

	mu         sync.Mutex
	unanswered map[KDC]bool // KDCs whose every attempt failed, until one answers
}

const (
	defaultTimeout  = 3 * time.Second
	defaultUDPLimit = 1465
	defaultMaxReply = 1 << 20
)

// Error reports that no KDC answered; Attempts says what happened at each.
type Error struct {
	Attempts []error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("transport: no KDC answered")
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(a.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error { return e.Attempts }

// Exchange sends req to the first KDC that answers and returns the reply and
// the KDC that gave it. A KRB-ERROR is a reply like any other (the caller
// decodes it), except KRB_ERR_RESPONSE_TOO_BIG over UDP, which makes Exchange
// retry the same KDC over TCP.
func (c *Client) Exchange(ctx context.Context, kdcs []KDC, req []byte) ([]byte, KDC, error) {
	if len(kdcs) == 0 {
		return nil, KDC{}, ErrNoKDC
	}
	limit := c.UDPPreferenceLimit
	if limit == 0 {
		limit = defaultUDPLimit
	}
	var attempts []error
	for _, k := range c.order(kdcs) {
		var networks []string
		switch {
		case k.Network != "":
			networks = []string{k.Network}
		case len(req) > limit:
			networks = []string{"tcp", "udp"}
		default:
			networks = []string{"udp", "tcp"}
		}
		for _, network := range networks {
			if err := ctx.Err(); err != nil {
				return nil, KDC{}, fmt.Errorf("transport: %w", err)
			}
			reply, err := c.attempt(ctx, network, k.Addr, req)
			if err == nil && network == "udp" && isResponseTooBig(reply) {
				c.trace("%s/%s: KRB_ERR_RESPONSE_TOO_BIG, retrying over TCP", network, k.Addr)
				reply, err = c.attempt(ctx, "tcp", k.Addr, req)
				network = "tcp"
			}
			if err == nil {
				c.trace("%s/%s: %d-byte reply", network, k.Addr, len(reply))
				c.remember(k, true)
				return reply, KDC{Addr: k.Addr, Network: network}, nil
			}
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, KDC{}, fmt.Errorf("transport: %w", ctxErr)
			}
			c.trace("%s/%s: %v", network, k.Addr, err)
			attempts = append(attempts, fmt.Errorf("%s/%s: %w", network, k.Addr, err))
		}
		c.remember(k, false)
	}
	return nil, KDC{}, &Error{Attempts: attempts}
}

// order is kdcs with those that did not answer an earlier exchange moved
// to the end, each part in its configured order: they are still asked
// when the others fail too.
func (c *Client) order(kdcs []KDC) []KDC {
	out := make([]KDC, 0, len(kdcs))
	var last []KDC
	var names []string
	c.mu.Lock()
	for _, k := range kdcs {
		if c.unanswered[k] {
			last = append(last, k)
			names = append(names, k.String())
		} else {
			out = append(out, k)
		}
	}
	c.mu.Unlock()
	if len(last) > 0 && len(out) > 0 {
		c.trace("%s did not answer before: asked last", strings.Join(names, ", "))
	}
	return append(out, last...)
}

// remember notes whether k answered.
func (c *Client) remember(k KDC, answered bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if answered {
		delete(c.unanswered, k)
		return
	}
	if c.unanswered == nil {
		c.unanswered = map[KDC]bool{}
	}
	c.unanswered[k] = true
}

func (c *Client) trace(format string, args ...any) {
	if c.Trace != nil {
		c.Trace(format, args...)
	}
}

func (c *Client) attempt(ctx context.Context, network, addr string, req []byte) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := c.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The connection follows the context: a deadline for the timeout, and an
	// immediate one on cancellation.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if network == "udp" {
		return exchangeUDP(conn, req)
	}
	max := c.MaxReply
	if max <= 0 {
		max = defaultMaxReply
	}
	return exchangeTCP(conn, req, max)
}

func exchangeUDP(conn net.Conn, req []byte) ([]byte, error) {
	if _, err := conn.Write(req); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("empty datagram")
	}
	return buf[:n], nil
}

// exchangeTCP frames req with the 4-byte length of RFC 4120 §7.2.2 and reads
// exactly one framed reply.
func exchangeTCP(conn net.Conn, req []byte, max int) ([]byte, error) {
	if err := WriteFrame(conn, req); err != nil {
		return nil, err
	}
	return ReadFrame(conn, max)
}

// WriteFrame writes msg with its 4-byte big-endian length (RFC 4120 §7.2.2).
func WriteFrame(w io.Writer, msg []byte) error {
	if len(msg) >= 1<<31 {
		return errors.New("message too long to frame")
	}
	frame := make([]byte, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg)))
	copy(frame[4:], msg)
	_, err := w.Write(frame)
	return err
}

// ReadFrame reads one length-prefixed message of at most max bytes. The high
// bit of the length is reserved for extensions (RFC 4120 §7.2.2) and refused.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read length: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n&(1<<31) != 0 {
		return nil, errors.New("reserved high bit set in the message length")
	}
	if n == 0 || int64(n) > int64(max) {
		return nil, fmt.Errorf("message length %d out of bounds (1..%d)", n, max)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, fmt.Errorf("read %d-byte message: %w", n, err)
	}
	return msg, nil
}

// isResponseTooBig reports a KRB-ERROR whose error-code is 52.
func isResponseTooBig(msg []byte) bool {
	var e messages.KRBError
	return e.Unmarshal(msg) == nil && krberror.Code(e.ErrorCode) == krberror.ResponseTooBig
}
