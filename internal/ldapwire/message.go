package ldapwire

import (
	"errors"
	"fmt"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// The protocolOp identifiers of RFC 4511 §4.2–4.12 ([APPLICATION n]).
const (
	opBindRequest     = 0x60
	opBindResponse    = 0x61
	opSearchRequest   = 0x63
	opSearchEntry     = 0x64
	opSearchDone      = 0x65
	opModifyRequest   = 0x66
	opModifyResponse  = 0x67
	opAddRequest      = 0x68
	opAddResponse     = 0x69
	opSearchReference = 0x73
	opExtendedRequest = 0x77
	opExtendedResp    = 0x78
)

// Result codes (RFC 4511 §4.1.9) that callers branch on.
const (
	Success                = 0
	SizeLimitExceeded      = 4
	NoSuchAttribute        = 16
	AttributeOrValueExists = 20
	NoSuchObject           = 32
	InvalidCredentials     = 49
	Busy                   = 51
	Unavailable            = 52
	EntryAlreadyExists     = 68
)

var resultNames = map[int64]string{
	Success: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
	SizeLimitExceeded: "sizeLimitExceeded", 7: "authMethodNotSupported", 8: "strongerAuthRequired",
	10: "referral", 11: "adminLimitExceeded", 12: "unavailableCriticalExtension", 13: "confidentialityRequired",
	NoSuchAttribute: "noSuchAttribute", 17: "undefinedAttributeType", 18: "inappropriateMatching",
	19: "constraintViolation", AttributeOrValueExists: "attributeOrValueExists", 21: "invalidAttributeSyntax",
	NoSuchObject: "noSuchObject", 34: "invalidDNSyntax", 48: "inappropriateAuthentication",
	InvalidCredentials: "invalidCredentials", 50: "insufficientAccessRights", Busy: "busy",
	Unavailable: "unavailable", 53: "unwillingToPerform", 64: "namingViolation", 65: "objectClassViolation",
	EntryAlreadyExists: "entryAlreadyExists", 80: "other",
}

// Error is the server's answer to an operation, other than success: the
// server works, and said no.
type Error struct {
	Op        string // "bind", "search", "add", "modify", "StartTLS"
	Code      int64  // the resultCode
	MatchedDN string
	Message   string // the diagnosticMessage, as the server wrote it
}

func (e *Error) Error() string {
	name := resultNames[e.Code]
	if name == "" {
		name = "unknown"
	}
	s := fmt.Sprintf("LDAP %s: result %d (%s)", e.Op, e.Code, name)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// IsCode reports whether err is the server's answer with code.
func IsCode(err error, code int64) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Scope is a search's scope (RFC 4511 §4.5.1.2).
type Scope int

const (
	ScopeBase Scope = iota
	ScopeOne
	ScopeSubtree
)

// SearchRequest is one search. PageSize > 0 pages through the results
// with the simple paged results control (RFC 2696).
type SearchRequest struct {
	Base      string
	Scope     Scope
	SizeLimit int // entries; 0: the server's limit
	TimeLimit int // seconds; 0: the server's limit
	Filter    Filter
	Attrs     []string // nil: every user attribute
	PageSize  uint32
}

// Attribute is an attribute (its description: type and options) and its
// values, binary-safe. In a search result the values are slices of the
// message they came in.
type Attribute struct {
	Name   string
	Values [][]byte
}

// Entry is one search result entry.
type Entry struct {
	DN    string
	Attrs []Attribute
}

// ChangeOp is a modification's operation (RFC 4511 §4.6).
type ChangeOp int

const (
	ChangeAdd     ChangeOp = iota // add the values given, operation 0
	ChangeDelete                  // delete the values given (all if none), operation 1
	ChangeReplace                 // replace, operation 2
)

// Change is one modification of a Modify.
type Change struct {
	Op ChangeOp
	Attribute
}

// pagedResultsOID is the simple paged results control (RFC 2696).
const pagedResultsOID = "1.2.840.113556.1.4.319"

// startTLSOID is the StartTLS extended operation (RFC 4511 §4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

func encodeBind(b *der.Builder, dn, password string) {
	b.Open(opBindRequest)
	b.AddInt64(3)
	b.AddString(der.OctetString, dn)
	b.AddString(cbasn1.Tag(0).ContextSpecific(), password) // simple [0]
	b.Close()
}

func encodeStartTLS(b *der.Builder) {
	b.Open(opExtendedRequest)
	b.AddString(cbasn1.Tag(0).ContextSpecific(), startTLSOID) // requestName [0]
	b.Close()
}

func (r *SearchRequest) encode(b *der.Builder) {
	b.Open(opSearchRequest)
	b.AddString(der.OctetString, r.Base)
	b.Add(cbasn1.ENUM, []byte{byte(r.Scope)})
	b.Add(cbasn1.ENUM, []byte{0}) // derefAliases: neverDerefAliases
	b.AddInt64(int64(r.SizeLimit))
	b.AddInt64(int64(r.TimeLimit))
	b.Add(cbasn1.BOOLEAN, []byte{0}) // typesOnly FALSE
	r.Filter.encode(b)
	b.Open(der.Sequence)
	for _, a := range r.Attrs {
		b.AddString(der.OctetString, a)
	}
	b.Close()
	b.Close()
}

// encodePaging writes the paged results control asking for size entries
// from cookie on.
func encodePaging(b *der.Builder, size uint32, cookie []byte) {
	b.Open(der.Sequence)
	b.AddString(der.OctetString, pagedResultsOID)
	var v der.Builder
	v.Open(der.Sequence)
	v.AddInt64(int64(size))
	v.Add(der.OctetString, cookie)
	v.Close()
	value, err := v.Bytes()
	if err != nil {
		b.SetError(err)
	}
	b.Add(der.OctetString, value)
	b.Close()
}

func encodeAttribute(b *der.Builder, a Attribute) {
	b.Open(der.Sequence)
	b.AddString(der.OctetString, a.Name)
	b.Open(tagSet)
	for _, v := range a.Values {
		b.Add(der.OctetString, v)
	}
	b.Close()
	b.Close()
}

func encodeAdd(b *der.Builder, dn string, attrs []Attribute) {
	b.Open(opAddRequest)
	b.AddString(der.OctetString, dn)
	b.Open(der.Sequence)
	for _, a := range attrs {
		encodeAttribute(b, a)
	}
	b.Close()
	b.Close()
}

func encodeModify(b *der.Builder, dn string, changes []Change) {
	b.Open(opModifyRequest)
	b.AddString(der.OctetString, dn)
	b.Open(der.Sequence)
	for _, c := range changes {
		if c.Op < ChangeAdd || c.Op > ChangeReplace {
			b.SetError(fmt.Errorf("ldapwire: modify %s: unknown change %d", dn, c.Op))
		}
		b.Open(der.Sequence)
		b.Add(cbasn1.ENUM, []byte{byte(c.Op)})
		encodeAttribute(b, c.Attribute)
		b.Close()
	}
	b.Close()
	b.Close()
}

// message is one LDAPMessage received.
type message struct {
	id       int64
	op       byte   // the protocolOp's identifier
	body     []byte // its contents
	controls []byte // the contents of controls [0], if any
}

func parseMessage(b []byte) (message, error) {
	p := &parser{b: b}
	var m message
	m.id = p.integer(tagInteger)
	m.op, m.body = p.next()
	if p.peek() == 0xa0 {
		m.controls = p.read(0xa0)
	}
	if p.err == nil && len(p.b) > 0 {
		p.err = protocolError("%d octets after the message's controls", len(p.b))
	}
	return m, p.err
}

// parseResult reads the LDAPResult that starts a response's contents
// (RFC 4511 §4.1.9); what follows it (a referral, SASL credentials, an
// extended response's name and value) is not used here.
func parseResult(op string, body []byte) (*Error, error) {
	p := &parser{b: body}
	e := &Error{Op: op}
	e.Code = p.integer(tagEnumerated)
	e.MatchedDN = p.octets(tagOctetString)
	e.Message = p.octets(tagOctetString)
	if p.err != nil {
		return nil, p.err
	}
	if e.Code == Success {
		return nil, nil
	}
	return e, nil
}

// parseEntry reads a SearchResultEntry's contents, counting its values
// down from *values; below zero it fails with [ErrTooLarge].
func parseEntry(body []byte, values *int) (Entry, error) {
	p := &parser{b: body}
	e := Entry{DN: p.octets(tagOctetString)}
	attrs := p.sub(tagSequence)
	for attrs.more() {
		pa := attrs.sub(tagSequence)
		a := Attribute{Name: pa.octets(tagOctetString)}
		vals := pa.sub(tagSet)
		for vals.more() {
			if *values--; *values < 0 {
				return Entry{}, fmt.Errorf("%w: more than %d values", ErrTooLarge, MaxValues)
			}
			a.Values = append(a.Values, vals.read(tagOctetString))
		}
		pa.join(vals)
		attrs.join(pa)
		e.Attrs = append(e.Attrs, a)
	}
	p.join(attrs)
	return e, p.err
}

// pagingCookie returns the cookie of the paged results control among
// controls, nil when there is none (the last page, or a server that does
// not page).
func pagingCookie(controls []byte) ([]byte, error) {
	p := &parser{b: controls}
	for p.more() {
		c := p.sub(tagSequence)
		oid := c.octets(tagOctetString)
		if c.peek() == tagBoolean {
			c.read(tagBoolean)
		}
		var value []byte
		if c.more() {
			value = c.read(tagOctetString)
		}
		p.join(c)
		if p.err != nil || oid != pagedResultsOID {
			continue
		}
		v := &parser{b: value}
		s := v.sub(tagSequence)
		s.integer(tagInteger) // the server's estimate of the total
		cookie := s.read(tagOctetString)
		v.join(s)
		return cookie, v.err
	}
	return nil, p.err
}
