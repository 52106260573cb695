// Package ldapwire is a synchronous LDAPv3 client (RFC 4511) for the few
// operations the KDC asks of a directory: simple bind, StartTLS, search
// (paged, RFC 2696), add and modify.
//
// A [Conn] is one connection used by one caller at a time: each operation
// writes its request and reads the replies on the caller's goroutine, with
// no reader goroutine, channel or timer per request. The KDC asks two
// searches per logon; over a general-purpose client (go-ldap, three
// goroutines and a BER object tree per message) those cost more of the
// KDC's CPU than the logon's own signature check.
//
// Replies are read as RFC 4511 §5.1 allows them and no further: definite
// lengths (in any number of octets up to four, as Active Directory writes
// them), one message at most [MaxMessage] long, every element where its
// module puts it. Anything else fails the operation with [ErrProtocol] and
// breaks the connection.
package ldapwire

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/sclogon/sclogon/internal/der"
)

// ErrRequest is what an operation whose request cannot be encoded (a
// filter nested too deep, an empty Filter) fails with: nothing was sent,
// and the connection stays usable.
var ErrRequest = errors.New("ldapwire: the request cannot be encoded")

// Conn is one LDAP connection. Its operations must not run concurrently;
// Close may be called at any time, from any goroutine, and makes the
// operation in progress fail.
type Conn struct {
	raw    net.Conn // the connection as dialed: what Close closes
	nc     net.Conn // raw, or TLS over it after StartTLS
	r      *bufio.Reader
	lastID int64
	out    []byte // the last request's encoding, reused

	broken atomic.Bool // closed, or failed in a way that leaves the stream unusable
}

// NewConn returns a Conn over nc, which is connected (and, for ldaps,
// already TLS).
func NewConn(nc net.Conn) *Conn {
	return &Conn{raw: nc, nc: nc, r: bufio.NewReaderSize(nc, 4096)}
}

// Close closes the connection.
func (c *Conn) Close() error {
	c.broken.Store(true)
	return c.raw.Close()
}

// Answered reports whether err, from an operation, says nothing against
// the server: its answer (an [*Error]), a result larger than the search
// accepts ([ErrTooLarge]), or a request never sent ([ErrRequest]). Any
// other error (the network, a malformed reply) is a failure of the
// connection.
func Answered(err error) bool {
	var e *Error
	return errors.As(err, &e) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRequest)
}

// Broken reports whether the connection is closed or failed: a network
// error or a malformed reply leaves the stream at an unknown point, and
// the connection must not be used again. A server's answer (an [*Error])
// does not break it.
func (c *Conn) Broken() bool { return c.broken.Load() }

// fail breaks the connection and returns err.
func (c *Conn) fail(err error) error {
	_ = c.Close()
	return err
}

// send writes one request: the protocolOp op writes, and controls if
// control is not nil. It returns the request's message ID.
func (c *Conn) send(op func(*der.Builder), control func(*der.Builder)) (int64, error) {
	if c.Broken() {
		return 0, net.ErrClosed
	}
	id := c.lastID + 1
	if id > 1<<31-1 {
		id = 1
	}
	b := der.NewBuilder(c.out[:0])
	b.Open(der.Sequence)
	b.AddInt64(id)
	op(b)
	if control != nil {
		b.Open(0xa0) // controls [0]
		control(b)
		b.Close()
	}
	b.Close()
	msg, err := b.Bytes()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrRequest, err) // the stream is intact
	}
	c.out, c.lastID = msg, id
	if _, err := c.nc.Write(msg); err != nil {
		return 0, c.fail(err)
	}
	return id, nil
}

// receive reads the next message, which must answer request id. A notice
// of disconnection (RFC 4511 §4.4.1, message ID 0) or any other message
// ends the connection.
func (c *Conn) receive(id int64) (message, error) {
	raw, err := readMessage(c.r)
	if err != nil {
		return message{}, c.fail(err)
	}
	m, err := parseMessage(raw)
	if err != nil {
		return message{}, c.fail(err)
	}
	if m.id != id {
		if m.id == 0 {
			return message{}, c.fail(fmt.Errorf("ldapwire: the server ends the connection: %w", notice(m)))
		}
		return message{}, c.fail(protocolError("reply to message %d where %d was asked", m.id, id))
	}
	return m, nil
}

// notice reads an unsolicited notification's result. It is not an
// [*Error]: it answers no operation.
func notice(m message) error {
	if m.op != opExtendedResp {
		return protocolError("unsolicited message of identifier %#x", m.op)
	}
	e, err := parseResult("notice of disconnection", m.body)
	if err != nil {
		return err
	}
	if e == nil {
		return errors.New("notice of disconnection")
	}
	return errors.New(e.Error())
}

// roundTrip sends op and reads its one response, which must have the
// identifier want; a result other than success is an [*Error].
func (c *Conn) roundTrip(name string, want byte, op func(*der.Builder)) error {
	id, err := c.send(op, nil)
	if err != nil {
		return err
	}
	m, err := c.receive(id)
	if err != nil {
		return err
	}
	if m.op != want {
		return c.fail(protocolError("%s answered with identifier %#x", name, m.op))
	}
	e, err := parseResult(name, m.body)
	if err != nil {
		return c.fail(err)
	}
	if e != nil {
		return e
	}
	return nil
}

// Bind makes a simple bind as dn.
func (c *Conn) Bind(dn, password string) error {
	return c.roundTrip("bind", opBindResponse, func(b *der.Builder) { encodeBind(b, dn, password) })
}

// StartTLS upgrades the connection to TLS (RFC 4511 §4.14) and completes
// the handshake; a failed handshake leaves the connection broken.
func (c *Conn) StartTLS(cfg *tls.Config) error {
	if err := c.roundTrip("StartTLS", opExtendedResp, encodeStartTLS); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		return c.fail(protocolError("data after the StartTLS response, before TLS"))
	}
	t := tls.Client(c.nc, cfg)
	if err := t.Handshake(); err != nil {
		return c.fail(fmt.Errorf("ldapwire: TLS handshake: %w", err))
	}
	c.nc, c.r = t, bufio.NewReaderSize(t, 4096)
	return nil
}

// Add adds the entry dn with attrs.
func (c *Conn) Add(dn string, attrs []Attribute) error {
	return c.roundTrip("add", opAddResponse, func(b *der.Builder) { encodeAdd(b, dn, attrs) })
}

// Modify applies changes to dn, all or none.
func (c *Conn) Modify(dn string, changes []Change) error {
	return c.roundTrip("modify", opModifyResponse, func(b *der.Builder) { encodeModify(b, dn, changes) })
}

// Bounds on one search's result, over all its pages: far more than the
// groups of any account (a Windows token holds about a thousand SIDs) or
// the keys of a realm, and a bound on what a hostile or spoofed directory
// can make the KDC hold. A value costs a slice header however short it is,
// so values are counted as well as octets.
const (
	MaxEntries     = 1 << 17 // entries, when the request sets no SizeLimit
	MaxValues      = 1 << 18 // attribute values
	MaxResultBytes = 32 << 20
)

// ErrTooLarge is what a search fails with when the server sends more than
// the request's SizeLimit or the bounds above allow. The server answered;
// the connection, left in the middle of a result, is closed.
var ErrTooLarge = errors.New("ldapwire: the server sent more than the search accepts")

// budget is what a search may still receive.
type budget struct{ entries, values, bytes int }

// Search runs req and returns its entries, from every page when
// req.PageSize > 0; continuation references are skipped. A result other
// than success returns the entries received with the [*Error]: a size
// limit exceeded still carries the entries up to the limit. A server that
// sends more entries than req.SizeLimit, or more than [MaxEntries],
// [MaxValues] or [MaxResultBytes], fails it with [ErrTooLarge].
func (c *Conn) Search(req *SearchRequest) ([]Entry, error) {
	var out []Entry
	var cookie []byte
	left := &budget{entries: MaxEntries, values: MaxValues, bytes: MaxResultBytes}
	if req.SizeLimit > 0 {
		left.entries = req.SizeLimit
	}
	for {
		var control func(*der.Builder)
		if req.PageSize > 0 {
			control = func(b *der.Builder) { encodePaging(b, req.PageSize, cookie) }
		}
		id, err := c.send(req.encode, control)
		if err != nil {
			return out, err
		}
		var done message
		if out, done, err = c.searchReplies(id, out, left); err != nil {
			return out, err
		}
		if e, err := parseResult("search", done.body); err != nil {
			return out, c.fail(err)
		} else if e != nil {
			return out, e
		}
		if req.PageSize == 0 {
			return out, nil
		}
		if cookie, err = pagingCookie(done.controls); err != nil {
			return out, c.fail(err)
		}
		if len(cookie) == 0 {
			return out, nil
		}
	}
}

// searchReplies reads the replies to search id up to its SearchResultDone,
// appending the entries to out within what is left.
func (c *Conn) searchReplies(id int64, out []Entry, left *budget) ([]Entry, message, error) {
	for {
		m, err := c.receive(id)
		if err != nil {
			return out, message{}, err
		}
		if left.bytes -= len(m.body); left.bytes < 0 {
			return out, message{}, c.fail(fmt.Errorf("%w: more than %d octets", ErrTooLarge, MaxResultBytes))
		}
		switch m.op {
		case opSearchEntry:
			if left.entries--; left.entries < 0 {
				return out, message{}, c.fail(fmt.Errorf("%w: more than %d entries", ErrTooLarge, len(out)))
			}
			e, err := parseEntry(m.body, &left.values)
			if err != nil {
				return out, message{}, c.fail(err)
			}
			out = append(out, e)
		case opSearchReference:
		case opSearchDone:
			return out, m, nil
		default:
			return out, message{}, c.fail(protocolError("search answered with identifier %#x", m.op))
		}
	}
}
