package ldap_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sclogon/sclogon/internal/ldapwire"
	"github.com/sclogon/sclogon/internal/ldapwire/wiretest"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldap"
)

// tlv is one BER element with a minimal length.
func tlv(tag byte, parts ...[]byte) []byte { return wiretest.TLV(false, tag, parts...) }

func octets(s string) []byte { return tlv(0x04, []byte(s)) }

// fakeDirectory is an LDAP server on loopback that answers each search
// with the replies search makes for its message ID (a single octet: the
// client's first IDs), and counts the connections it accepted.
func fakeDirectory(t *testing.T, search func(id byte) [][]byte) (url string, conns *atomic.Int32) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					var hdr [2]byte
					if _, err := io.ReadFull(r, hdr[:]); err != nil {
						return
					}
					n := int(hdr[1])
					if hdr[1] == 0x81 {
						b, _ := r.ReadByte()
						n = int(b)
					} else if hdr[1] == 0x82 {
						var l [2]byte
						io.ReadFull(r, l[:])
						n = int(l[0])<<8 | int(l[1])
					}
					body := make([]byte, n)
					if _, err := io.ReadFull(r, body); err != nil {
						return
					}
					for _, out := range search(body[2]) { // 02 01 ID
						if _, err := c.Write(out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "ldap://" + ln.Addr().String(), conns
}

func done(id byte) []byte {
	return tlv(0x30, tlv(0x02, []byte{id}), tlv(0x65, tlv(0x0a, []byte{0}), octets(""), octets("")))
}

func userEntry(id byte, cn string) []byte {
	attr := tlv(0x30, octets("sAMAccountName"), tlv(0x31, octets(cn)))
	return tlv(0x30, tlv(0x02, []byte{id}), tlv(0x64, octets("cn="+cn+",dc=x"), tlv(0x30, attr)))
}

// Answers the client cannot use are answers all the same: a server that
// sends more entries than asked for, or finds the entry it was asked to
// read but shows none of it, fails that lookup, is not counted as failing
// (so neither it nor its replicas back off), and leaves the directory
// usable. A request the client cannot encode never reaches the server.
func TestAnswersAreNotFailures(t *testing.T) {
	var overflow atomic.Bool
	url, conns := fakeDirectory(t, func(id byte) [][]byte {
		if overflow.Load() {
			var out [][]byte
			for i := range ldap.DefaultSizeLimit + 5 {
				out = append(out, userEntry(id, "u"+strings.Repeat("x", i%3)))
			}
			return append(out, done(id))
		}
		return [][]byte{done(id)}
	})
	dir, err := ldap.New(ldap.Config{URL: url, BaseDN: "dc=x", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	ctx := context.Background()
	check := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) || errors.Is(err, mapping.ErrDirectoryUnavailable) {
			t.Errorf("%s: %v, want %v", what, err, want)
		}
		if st := dir.Servers(); st[0].Failures != 0 {
			t.Errorf("%s counted as a failure of the server: %+v", what, st[0])
		}
	}

	_, err = dir.Entry(ctx, "cn=hidden,dc=x", []string{"cn"})
	check("a base search that finds nothing", err, ldap.ErrNoSuchEntry)
	_, err = dir.Children(ctx, "dc=x", ldap.Filter{}, nil)
	check("an empty filter", err, ldapwire.ErrRequest)
	overflow.Store(true)
	_, err = dir.FindByUPN(ctx, "u@x")
	check("more entries than the size limit", err, ldapwire.ErrTooLarge)
	overflow.Store(false)
	if _, err := dir.FindByUPN(ctx, "u@x"); err != nil {
		t.Errorf("the next lookup: %v", err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the one the oversized result closed, and the next", n)
	}
}

// ldapi:/// names slapd's default socket, as ldapsearch -H ldapi:/// does,
// not the socket "/".
func TestLDAPIDefaultSocket(t *testing.T) {
	for _, url := range []string{"ldapi://", "ldapi:///"} {
		dir, err := ldap.New(ldap.Config{URL: url, BaseDN: "dc=x", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = dir.Ping(context.Background())
		dir.Close()
		if err == nil || !strings.Contains(err.Error(), "/var/run/slapd/ldapi") {
			t.Errorf("%s: %v, want a dial of /var/run/slapd/ldapi", url, err)
		}
	}
}
