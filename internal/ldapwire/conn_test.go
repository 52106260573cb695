package ldapwire

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/internal/ldapwire/wiretest"
)

// tlv encodes one BER element; with long set, every length takes the
// four-octet long form, as Active Directory writes lengths.
var tlv = wiretest.TLV

func str(long bool, tag byte, s string) []byte { return tlv(long, tag, []byte(s)) }
func num(long bool, tag byte, v int) []byte {
	if v < 0x80 {
		return tlv(long, tag, []byte{byte(v)})
	}
	return tlv(long, tag, []byte{0, byte(v)})
}

// reply is an LDAPMessage of id with op and, if given, controls.
func reply(long bool, id int, op []byte, controls ...[]byte) []byte {
	parts := [][]byte{num(long, tagInteger, id), op}
	if len(controls) > 0 {
		parts = append(parts, tlv(long, 0xa0, controls...))
	}
	return tlv(long, tagSequence, parts...)
}

func result(long bool, tag byte, code int, msg string, extra ...[]byte) []byte {
	parts := append([][]byte{num(long, tagEnumerated, code), str(long, tagOctetString, ""), str(long, tagOctetString, msg)}, extra...)
	return tlv(long, tag, parts...)
}

func entry(long bool, dn string, attrs map[string][]string) []byte {
	var list [][]byte
	for _, name := range []string{"cn", "objectSid", "member", "userPrincipalName"} {
		vs, ok := attrs[name]
		if !ok {
			continue
		}
		var vals [][]byte
		for _, v := range vs {
			vals = append(vals, str(long, tagOctetString, v))
		}
		list = append(list, tlv(long, tagSequence, str(long, tagOctetString, name), tlv(long, tagSet, vals...)))
	}
	return tlv(long, opSearchEntry, str(long, tagOctetString, dn), tlv(long, tagSequence, list...))
}

func pagingControl(long bool, cookie string) []byte {
	value := tlv(long, tagSequence, num(long, tagInteger, 0), str(long, tagOctetString, cookie))
	return tlv(long, tagSequence, str(long, tagOctetString, pagedResultsOID), tlv(long, tagOctetString, value))
}

// server is the far end of a pipe: it records each request and writes
// the replies the test gives for it.
type server struct {
	t        *testing.T
	conn     net.Conn
	r        *bufio.Reader
	requests [][]byte
}

func pipe(t *testing.T) (*Conn, *server) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return NewConn(a), &server{t: t, conn: b, r: bufio.NewReader(b)}
}

// serve answers the next requests, each with the replies of one element
// of answers, in a goroutine; done is closed when it has.
func (s *server) serve(answers ...[][]byte) (done chan struct{}) {
	done = make(chan struct{})
	go func() {
		defer close(done)
		for _, replies := range answers {
			body, err := readMessage(s.r)
			if err != nil {
				return
			}
			s.requests = append(s.requests, tlv(false, tagSequence, body))
			for _, r := range replies {
				if _, err := s.conn.Write(r); err != nil {
					return
				}
			}
		}
	}()
	return done
}

// The requests are those go-ldap writes, byte for byte: bind, a
// filter with each kind of part, paging, add, modify.
func TestRequestsMatchGoLDAP(t *testing.T) {
	sid := string([]byte{1, 5, 0, 0, 0, 0, 0, 5, 0x15, 0, 0, 0, '*', '(', 0})
	cases := []struct {
		name string
		ours func(*Conn) error
		them func(*goldap.Conn) error
	}{
		{"bind", func(c *Conn) error { return c.Bind("cn=admin,dc=example,dc=com", "s3cret") },
			func(c *goldap.Conn) error { return c.Bind("cn=admin,dc=example,dc=com", "s3cret") }},
		{"search", func(c *Conn) error {
			_, err := c.Search(&SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSubtree, SizeLimit: 100, TimeLimit: 6,
				Filter: And(EqualString("objectClass", "user"), Or(EqualString("userPrincipalName", "a*(b)\\@x"), EqualString("objectSid", sid), Present("cn"))),
				Attrs:  []string{"cn", "objectSid"}})
			return err
		}, func(c *goldap.Conn) error {
			_, err := c.Search(goldap.NewSearchRequest("dc=example,dc=com", goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 100, 6, false,
				"(&(objectClass=user)(|(userPrincipalName="+goldap.EscapeFilter("a*(b)\\@x")+")(objectSid="+goldap.EscapeFilter(sid)+")(cn=*)))",
				[]string{"cn", "objectSid"}, nil))
			return err
		}},
		{"paged", func(c *Conn) error {
			_, err := c.Search(&SearchRequest{Base: "ou=K,dc=example,dc=com", Scope: ScopeOne, TimeLimit: 6, Filter: EqualString("objectClass", "group"), PageSize: 500})
			return err
		}, func(c *goldap.Conn) error {
			_, err := c.SearchWithPaging(goldap.NewSearchRequest("ou=K,dc=example,dc=com", goldap.ScopeSingleLevel, goldap.NeverDerefAliases, 0, 6, false,
				"(objectClass=group)", nil, nil), 500)
			return err
		}},
		{"add", func(c *Conn) error {
			return c.Add("cn=k,dc=example,dc=com", []Attribute{{"objectClass", [][]byte{[]byte("top"), []byte("k")}}, {"key", [][]byte{{0, 1, 2}}}})
		}, func(c *goldap.Conn) error {
			req := goldap.NewAddRequest("cn=k,dc=example,dc=com", nil)
			req.Attribute("objectClass", []string{"top", "k"})
			req.Attribute("key", []string{"\x00\x01\x02"})
			return c.Add(req)
		}},
		{"modify", func(c *Conn) error {
			return c.Modify("cn=k,dc=example,dc=com", []Change{{ChangeDelete, Attribute{"key", [][]byte{[]byte("old")}}},
				{ChangeAdd, Attribute{"key", [][]byte{[]byte("new")}}}, {ChangeReplace, Attribute{"n", [][]byte{[]byte("2")}}}})
		}, func(c *goldap.Conn) error {
			req := goldap.NewModifyRequest("cn=k,dc=example,dc=com", nil)
			req.Delete("key", []string{"old"})
			req.Add("key", []string{"new"})
			req.Replace("n", []string{"2"})
			return c.Modify(req)
		}},
	}
	answer := map[string][]byte{
		"bind":   reply(false, 1, result(false, opBindResponse, 0, "")),
		"search": reply(false, 1, result(false, opSearchDone, 0, "")),
		"paged":  reply(false, 1, result(false, opSearchDone, 0, ""), pagingControl(false, "")),
		"add":    reply(false, 1, result(false, opAddResponse, 0, "")),
		"modify": reply(false, 1, result(false, opModifyResponse, 0, "")),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, s := pipe(t)
			done := s.serve([][]byte{answer[tc.name]})
			if err := tc.ours(c); err != nil {
				t.Fatal(err)
			}
			<-done
			a, b := net.Pipe()
			defer a.Close()
			gs := &server{t: t, conn: b, r: bufio.NewReader(b)}
			gdone := gs.serve([][]byte{answer[tc.name]})
			gc := goldap.NewConn(a, false)
			gc.Start()
			defer gc.Close()
			if err := tc.them(gc); err != nil {
				t.Fatal(err)
			}
			<-gdone
			if !bytes.Equal(s.requests[0], gs.requests[0]) {
				t.Errorf("request\n%x\ngo-ldap writes\n%x", s.requests[0], gs.requests[0])
			}
		})
	}
}

// Replies are read with lengths in any form BER allows (here AD's four
// octets), entries keep every value, references are skipped, and pages
// follow the server's cookie.
func TestSearchReadsRepliesAsADWritesThem(t *testing.T) {
	for _, long := range []bool{false, true} {
		t.Run(fmt.Sprint("long=", long), func(t *testing.T) {
			c, s := pipe(t)
			done := s.serve(
				[][]byte{
					reply(long, 1, entry(long, "cn=a,dc=x", map[string][]string{"cn": {"a"}, "member": {"cn=1", "cn=2"}})),
					reply(long, 1, tlv(long, opSearchReference, str(long, tagOctetString, "ldap://other/dc=x"))),
					reply(long, 1, result(long, opSearchDone, 0, ""), pagingControl(long, "next")),
				},
				[][]byte{
					reply(long, 2, entry(long, "cn=b,dc=x", map[string][]string{"objectSid": {"\x01\x00"}})),
					reply(long, 2, result(long, opSearchDone, 0, ""), pagingControl(long, "")),
				})
			es, err := c.Search(&SearchRequest{Base: "dc=x", Scope: ScopeSubtree, Filter: Present("cn"), PageSize: 1})
			<-done
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 2 || es[0].DN != "cn=a,dc=x" || es[1].DN != "cn=b,dc=x" {
				t.Fatalf("entries %+v", es)
			}
			if got := es[0].Attrs; len(got) != 2 || got[1].Name != "member" || len(got[1].Values) != 2 || string(got[1].Values[1]) != "cn=2" {
				t.Errorf("attributes %+v", got)
			}
			if !bytes.Contains(s.requests[1], []byte("next")) {
				t.Errorf("second page asked without the cookie: %x", s.requests[1])
			}
			if c.Broken() {
				t.Error("connection broken after a good search")
			}
		})
	}
}

// A server's refusal is an *Error with its code and message and leaves
// the connection usable; a size limit returns the entries up to it.
func TestServerAnswers(t *testing.T) {
	c, s := pipe(t)
	done := s.serve(
		[][]byte{reply(false, 1, result(false, opBindResponse, InvalidCredentials, "80090308: LdapErr: DSID-0C09044E"))},
		[][]byte{
			reply(false, 2, entry(false, "cn=a,dc=x", nil)),
			reply(false, 2, result(false, opSearchDone, SizeLimitExceeded, "")),
		},
		[][]byte{reply(false, 3, result(false, opAddResponse, EntryAlreadyExists, ""))},
	)
	err := c.Bind("cn=a", "wrong")
	if !IsCode(err, InvalidCredentials) || !strings.Contains(err.Error(), "invalidCredentials") || !strings.Contains(err.Error(), "DSID-0C09044E") {
		t.Errorf("bind: %v", err)
	}
	es, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn"), SizeLimit: 1})
	if !IsCode(err, SizeLimitExceeded) || len(es) != 1 {
		t.Errorf("search: %d entries, %v", len(es), err)
	}
	if err := c.Add("cn=a,dc=x", nil); !IsCode(fmt.Errorf("wrapped: %w", err), EntryAlreadyExists) {
		t.Errorf("add: %v", err)
	}
	<-done
	if c.Broken() {
		t.Error("a server's answers broke the connection")
	}
}

// Whatever a server sends that is not RFC 4511 fails the operation and
// breaks the connection, which is never used again; nothing is allocated
// for a length over MaxMessage.
func TestMalformedRepliesBreakTheConnection(t *testing.T) {
	done := result(false, opSearchDone, 0, "")
	huge := []byte{tagSequence, 0x84, 0x7f, 0xff, 0xff, 0xff}
	cases := map[string][]byte{
		"another message ID":       reply(false, 7, done),
		"notice of disconnection":  reply(false, 0, result(false, opExtendedResp, Unavailable, "shutting down")),
		"indefinite length":        {tagSequence, 0x80, 0x02, 0x01, 0x01, 0, 0},
		"length over MaxMessage":   huge,
		"length of five octets":    {tagSequence, 0x85, 0, 0, 0, 0, 3},
		"not a SEQUENCE":           tlv(false, tagSet, num(false, tagInteger, 1), done),
		"truncated message":        reply(false, 1, done)[:8],
		"wrong operation":          reply(false, 1, result(false, opAddResponse, 0, "")),
		"entry cut short":          reply(false, 1, tlv(false, opSearchEntry, str(false, tagOctetString, "cn=a"), []byte{tagSequence, 5, tagSequence})),
		"value outside its SET":    reply(false, 1, tlv(false, opSearchEntry, str(false, tagOctetString, "cn=a"), tlv(false, tagSequence, tlv(false, tagSequence, str(false, tagOctetString, "cn"), str(false, tagOctetString, "v"))))),
		"result code of 5 octets":  reply(false, 1, tlv(false, opSearchDone, tlv(false, tagEnumerated, []byte{1, 2, 3, 4, 5}), str(false, tagOctetString, ""), str(false, tagOctetString, ""))),
		"multi-octet identifier":   reply(false, 1, []byte{0x7f, 0x01, 0x00}),
		"octets after controls":    tlv(false, tagSequence, num(false, tagInteger, 1), done, tlv(false, 0xa0), []byte{4, 0}),
		"connection closed midway": nil,
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			c, s := pipe(t)
			go func() {
				if _, err := readMessage(s.r); err != nil {
					return
				}
				s.conn.Write(bad)
				s.conn.Close() // a truncated reply is not waited for forever
			}()
			_, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn")})
			if err == nil {
				t.Fatal("search succeeded")
			}
			var e *Error
			if errors.As(err, &e) {
				t.Errorf("a malformed reply came back as the server's answer: %v", err)
			}
			if !c.Broken() {
				t.Errorf("connection still usable after %v", err)
			}
			if _, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn")}); !errors.Is(err, net.ErrClosed) {
				t.Errorf("a broken connection was used again: %v", err)
			}
		})
	}
	r := bufio.NewReader(bytes.NewReader(huge))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := readMessage(r); err == nil {
		t.Fatal("huge message read")
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("refusing a huge length allocated %d bytes", n)
	}
}

// A server that sends more than the search accepts (entries over the
// size limit, values or octets over the bounds) fails it with ErrTooLarge
// and the connection is closed, in the middle of the result, without the
// KDC holding what the server sent: a value is counted however short.
func TestResultsOverTheBounds(t *testing.T) {
	many := make([]string, MaxValues+1)
	big := strings.Repeat("v", MaxMessage-64)
	cases := map[string]struct {
		replies [][]byte
		req     SearchRequest
	}{
		"entries over the size limit": {req: SearchRequest{SizeLimit: 2}, replies: [][]byte{
			reply(false, 1, entry(false, "cn=a", nil)), reply(false, 1, entry(false, "cn=b", nil)), reply(false, 1, entry(false, "cn=c", nil))}},
		"values over MaxValues": {replies: [][]byte{reply(true, 1, entry(true, "cn=a", map[string][]string{"member": many}))}},
		"octets over MaxResultBytes": {req: SearchRequest{PageSize: 10}, replies: func() [][]byte {
			var rs [][]byte
			for range MaxResultBytes/len(big) + 1 {
				rs = append(rs, reply(true, 1, entry(true, "cn=a", map[string][]string{"cn": {big}})))
			}
			return rs
		}()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, s := pipe(t)
			done := s.serve(append(tc.replies, reply(false, 1, result(false, opSearchDone, 0, ""))))
			req := tc.req
			req.Base, req.Filter = "dc=x", Present("cn")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := c.Search(&req)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) || !c.Broken() {
				t.Errorf("search: %v, broken %v", err, c.Broken())
			}
			// The octets case reads a 32 MiB result before it refuses.
			if n := after.TotalAlloc - before.TotalAlloc; n > 3*MaxResultBytes/2 {
				t.Errorf("refusing it allocated %d MiB", n>>20)
			}
			s.conn.Close()
			<-done
		})
	}
}

// A request that cannot be encoded is refused before anything is sent:
// the connection stays usable.
func TestRequestThatCannotBeEncoded(t *testing.T) {
	c, s := pipe(t)
	done := s.serve([][]byte{reply(false, 1, result(false, opSearchDone, 0, ""))}) // no ID spent on the refused ones
	if _, err := c.Search(&SearchRequest{Base: "dc=x"}); !errors.Is(err, ErrRequest) || c.Broken() {
		t.Errorf("an empty filter: %v, broken %v", err, c.Broken())
	}
	deep := Present("cn")
	for range 30 {
		deep = And(deep)
	}
	if _, err := c.Search(&SearchRequest{Base: "dc=x", Filter: deep}); !errors.Is(err, ErrRequest) || c.Broken() {
		t.Errorf("a filter nested 30 deep: %v, broken %v", err, c.Broken())
	}
	if err := c.Modify("cn=k,dc=x", []Change{{Op: 7, Attribute: Attribute{Name: "k"}}}); !errors.Is(err, ErrRequest) || c.Broken() {
		t.Errorf("a modify with operation 7: %v, broken %v", err, c.Broken())
	}
	if _, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn")}); err != nil {
		t.Errorf("the next search: %v", err)
	}
	<-done
}

// A four-octet length at or over 2^31 is refused: where int has 32 bits
// it would be negative and pass every bound.
func TestLengthsOver31Bits(t *testing.T) {
	for _, b := range [][]byte{{0x84, 0x80, 0, 0, 0}, {0x84, 0xff, 0xff, 0xff, 0xff}} {
		if n, _, err := parseLength(b); err == nil {
			t.Errorf("% x read as %d", b, n)
		}
	}
	if n, _, err := parseLength([]byte{0x84, 0x7f, 0xff, 0xff, 0xff}); err != nil || n != 1<<31-1 {
		t.Errorf("2^31-1: %d, %v", n, err)
	}
}

// The StartTLS request is the one go-ldap writes.
func TestStartTLSRequestMatchesGoLDAP(t *testing.T) {
	ok := reply(false, 1, result(false, opExtendedResp, 0, ""))
	c, s := pipe(t)
	done := s.serve([][]byte{ok})
	go func() { <-done; s.conn.Close() }()
	_ = c.StartTLS(&tls.Config{ServerName: "x"}) // the handshake fails: nobody answers it
	<-done
	a, b := net.Pipe()
	gs := &server{t: t, conn: b, r: bufio.NewReader(b)}
	gdone := gs.serve([][]byte{ok})
	go func() { <-gdone; b.Close() }()
	gc := goldap.NewConn(a, false)
	gc.Start()
	_ = gc.StartTLS(&tls.Config{ServerName: "x"})
	gc.Close()
	<-gdone
	if len(s.requests) != 1 || len(gs.requests) != 1 || !bytes.Equal(s.requests[0], gs.requests[0]) {
		t.Errorf("StartTLS\n%x\ngo-ldap writes\n%x", s.requests, gs.requests)
	}
}

// Close from another goroutine ends an operation waiting for its reply,
// as the directory's context does at its deadline.
func TestCloseEndsAWaitingOperation(t *testing.T) {
	c, s := pipe(t)
	go func() { _, _ = readMessage(s.r) }()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn")})
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if err == nil || !c.Broken() {
			t.Errorf("search after Close: %v, broken %v", err, c.Broken())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the search")
	}
}

func TestFilterString(t *testing.T) {
	f := And(EqualString("objectClass", "user"), Or(EqualString("cn", "a*(b)\\"), Equal("objectSid", []byte{1, 0xff, 'x'}), Present("member")))
	want := `(&(objectClass=user)(|(cn=a\2a\28b\29\5c)(objectSid=\01\ffx)(member=*)))`
	if got := f.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

// FuzzReplies feeds a search arbitrary server bytes: it may fail, never
// panic, hang or return entries from a reply it could not read whole.
func FuzzReplies(f *testing.F) {
	f.Add(reply(true, 1, entry(true, "cn=a", map[string][]string{"cn": {"a"}})))
	f.Add(append(reply(false, 1, entry(false, "cn=a", map[string][]string{"member": {"x", "y"}})), reply(false, 1, result(false, opSearchDone, 0, ""), pagingControl(false, ""))...))
	f.Add(reply(false, 1, result(false, opSearchDone, 4, "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		go func() {
			defer b.Close()
			if _, err := readMessage(bufio.NewReader(b)); err != nil {
				return
			}
			b.Write(data)
		}()
		c := NewConn(a)
		_, err := c.Search(&SearchRequest{Base: "dc=x", Filter: Present("cn"), PageSize: 10})
		if err != nil && !c.Broken() {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v left the connection usable", err)
			}
		}
	})
}
