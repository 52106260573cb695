// Package ccache reads and writes MIT Kerberos credential caches of every
// type MIT names: FILE, DIR, KEYRING, KCM and MEMORY.
//
// Call [DefaultName] with an [Environment] to find the cache MIT's tools
// would use (KRB5CCNAME, then krb5.conf's default_ccache_name, then
// FILE:/tmp/krb5cc_UID), [Open] it, and Store a [CCache] into it; Load reads
// one back. Every Store replaces a cache as one step. [WriteFile],
// [WriteFileOwned] and [ReadFile] remain for FILE caches by path.
//
// # Types
//
// FILE:path is format version 4, written to a temporary file created 0600
// with O_EXCL beside the target, synced, and renamed into place. DIR:dir is
// MIT's collection of tkt* FILE caches with a "primary" file; KEYRING: is
// the Linux kernel keyring in MIT's layout (keyring_payload.go); KCM: talks
// to sssd-kcm or Heimdal's kcm over its Unix socket (kcm_wire.go); MEMORY:
// lives in a [Memory] the caller owns.
//
// # Format
//
// The layout follows MIT's "Credential cache file format" (doc/formats/ccache_file_format.rst):
// big-endian integers; a header of tagged fields (tag 1 is the KDC time offset);
// the default principal; then credentials until the end of the file. Entries whose
// server realm is "X-CACHECONF:" are configuration, not tickets; they are kept.
package ccache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Version4 is the only version written; versions 3 and 4 are read.
const (
	Version4 = 0x0504
	version3 = 0x0503

	tagDeltaTime = 1 // KDC time offset: int32 seconds, int32 microseconds

	// ConfigRealm marks configuration entries (krb5_cc_set_config).
	ConfigRealm = "X-CACHECONF:"
)

// Principal is a Kerberos principal name as the ccache stores it.
type Principal struct {
	NameType   int32
	Components []string
	Realm      string
}

// String renders the principal as "a/b@REALM".
func (p Principal) String() string {
	return strings.Join(p.Components, "/") + "@" + p.Realm
}

// Key is a session key. The caller owns Value and should wipe it after use.
type Key struct {
	EType int32
	Value []byte
}

// Address is a host address (RFC 4120 §5.2.5).
type Address struct {
	Type int16
	Data []byte
}

// AuthData is one authorization-data element (RFC 4120 §5.2.6).
type AuthData struct {
	Type int16
	Data []byte
}

// Credential is one ticket with its session key and times.
type Credential struct {
	Client, Server Principal
	Key            Key
	AuthTime       time.Time
	StartTime      time.Time
	EndTime        time.Time
	RenewTill      time.Time
	IsSKey         bool
	Flags          uint32 // TicketFlags as a big-endian bit string: bit 0 (reserved) is 1<<31
	Addresses      []Address
	AuthData       []AuthData
	Ticket         []byte // DER Ticket
	SecondTicket   []byte
}

// CCache is a whole credential cache.
type CCache struct {
	Principal   Principal
	Credentials []Credential
	// KDCOffset is the KDC's clock minus ours, stored in the header when non-zero.
	KDCOffset time.Duration
}

// Marshal encodes the cache in format version 4.
func (c *CCache) Marshal() ([]byte, error) {
	var b writer
	b.u16(Version4)
	if c.KDCOffset != 0 {
		sec := int64(c.KDCOffset / time.Second)
		usec := int64((c.KDCOffset % time.Second) / time.Microsecond)
		if sec < math.MinInt32 || sec > math.MaxInt32 {
			return nil, fmt.Errorf("ccache: KDC time offset %v out of range", c.KDCOffset)
		}
		b.u16(12) // header length: one tag of 2+2+8 bytes
		b.u16(tagDeltaTime)
		b.u16(8)
		b.u32(uint32(int32(sec)))
		b.u32(uint32(int32(usec)))
	} else {
		b.u16(0)
	}
	b.principal(c.Principal)
	for _, cr := range c.Credentials {
		b.credential(cr)
	}
	if b.err != nil {
		return nil, b.err
	}
	return b.buf, nil
}

type writer struct {
	buf []byte
	err error
}

func (w *writer) u16(v uint16) { w.buf = binary.BigEndian.AppendUint16(w.buf, v) }
func (w *writer) u32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }

func (w *writer) bytes(p []byte) {
	if uint64(len(p)) > math.MaxUint32 {
		w.err = errors.New("ccache: field longer than 4 GiB")
		return
	}
	w.u32(uint32(len(p)))
	w.buf = append(w.buf, p...)
}

func (w *writer) principal(p Principal) {
	w.u32(uint32(p.NameType))
	w.u32(uint32(len(p.Components)))
	w.bytes([]byte(p.Realm))
	for _, c := range p.Components {
		w.bytes([]byte(c))
	}
}

// credential appends one credential record, the unit KCM and KEYRING caches
// store on their own.
func (w *writer) credential(cr Credential) {
	w.principal(cr.Client)
	w.principal(cr.Server)
	w.u16(uint16(cr.Key.EType))
	w.bytes(cr.Key.Value)
	for _, t := range []time.Time{cr.AuthTime, cr.StartTime, cr.EndTime, cr.RenewTill} {
		w.time(t)
	}
	if cr.IsSKey {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
	w.u32(cr.Flags)
	w.u32(uint32(len(cr.Addresses)))
	for _, a := range cr.Addresses {
		w.u16(uint16(a.Type))
		w.bytes(a.Data)
	}
	w.u32(uint32(len(cr.AuthData)))
	for _, a := range cr.AuthData {
		w.u16(uint16(a.Type))
		w.bytes(a.Data)
	}
	w.bytes(cr.Ticket)
	w.bytes(cr.SecondTicket)
}

// time stores seconds since the epoch in 32 bits; the zero time is 0 ("unset").
func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.u32(0)
		return
	}
	s := t.Unix()
	if s < 0 || s > math.MaxUint32 {
		w.err = fmt.Errorf("ccache: time %v does not fit the format", t)
		return
	}
	w.u32(uint32(s))
}

// Errors from Parse.
var (
	ErrVersion   = errors.New("ccache: unsupported file format version")
	ErrTruncated = errors.New("ccache: truncated")
)

// Limits that keep a hostile file from making Parse allocate without bound.
const (
	maxComponents = 64
	maxCount      = 1 << 16
)

// Parse decodes a version 3 or 4 cache. It never panics; any inconsistency is an
// error.
func Parse(data []byte) (*CCache, error) {
	r := reader{buf: data}
	v := r.u16()
	if r.err != nil {
		return nil, r.err
	}
	if v != Version4 && v != version3 {
		return nil, fmt.Errorf("%w: 0x%04x", ErrVersion, v)
	}
	c := &CCache{}
	if v == Version4 {
		hdr := reader{buf: r.take(int(r.u16()))}
		for r.err == nil && hdr.err == nil && len(hdr.buf) > 0 {
			tag := hdr.u16()
			val := reader{buf: hdr.take(int(hdr.u16()))}
			if tag == tagDeltaTime && hdr.err == nil {
				sec, usec := int32(val.u32()), int32(val.u32())
				if val.err != nil || len(val.buf) != 0 {
					return nil, errors.New("ccache: malformed time offset header")
				}
				c.KDCOffset = time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
			}
		}
		if hdr.err != nil {
			return nil, fmt.Errorf("ccache: header: %w", hdr.err)
		}
	}
	c.Principal = r.principal()
	for r.err == nil && len(r.buf) > 0 {
		cr := r.credential(v)
		if r.err == nil {
			c.Credentials = append(c.Credentials, cr)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return c, nil
}

// credential reads one credential record of format version v.
func (r *reader) credential(v uint16) Credential {
	var cr Credential
	cr.Client = r.principal()
	cr.Server = r.principal()
	cr.Key.EType = int32(int16(r.u16()))
	if v == version3 {
		r.u16() // the enctype again
	}
	cr.Key.Value = r.bytes()
	cr.AuthTime, cr.StartTime, cr.EndTime, cr.RenewTill = r.time(), r.time(), r.time(), r.time()
	switch b := r.take(1); {
	case len(b) == 1 && b[0] <= 1:
		cr.IsSKey = b[0] == 1
	case r.err == nil:
		r.err = errors.New("ccache: is_skey is neither 0 nor 1")
	}
	cr.Flags = r.u32()
	for n := r.count(); n > 0 && r.err == nil; n-- {
		cr.Addresses = append(cr.Addresses, Address{Type: int16(r.u16()), Data: r.bytes()})
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		cr.AuthData = append(cr.AuthData, AuthData{Type: int16(r.u16()), Data: r.bytes()})
	}
	cr.Ticket = r.bytes()
	cr.SecondTicket = r.bytes()
	return cr
}

type reader struct {
	buf []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf) {
		r.err = ErrTruncated
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) count() int {
	n := r.u32()
	if r.err == nil && n > maxCount {
		r.err = fmt.Errorf("ccache: count %d too large", n)
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.buf)) {
		r.err = ErrTruncated
		return nil
	}
	return append([]byte(nil), r.take(int(n))...)
}

func (r *reader) principal() Principal {
	var p Principal
	p.NameType = int32(r.u32())
	n := r.u32()
	if r.err == nil && n > maxComponents {
		r.err = fmt.Errorf("ccache: principal with %d components", n)
	}
	p.Realm = string(r.bytes())
	for i := uint32(0); i < n && r.err == nil; i++ {
		p.Components = append(p.Components, string(r.bytes()))
	}
	return p
}

func (r *reader) time() time.Time {
	s := r.u32()
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0)
}

// WriteFile writes c to path atomically: a temporary file beside it, created
// with O_EXCL and mode 0600, synced, then renamed over path. On any error path is
// left as it was.
func WriteFile(path string, c *CCache) error {
	return writeFile(path, c, -1, -1)
}

// WriteFileOwned is [WriteFile] for a cache that belongs to another user
// (a logon service writing for the person logging on): the temporary file
// is handed to uid:gid before it is renamed into place, so the cache is
// never visible with the wrong owner.
func WriteFileOwned(path string, c *CCache, uid, gid int) error {
	if uid < 0 || gid < 0 {
		return fmt.Errorf("ccache: owner %d:%d", uid, gid)
	}
	return writeFile(path, c, uid, gid)
}

func writeFile(path string, c *CCache, uid, gid int) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	tmp, err := writeTemp(path, data, uid, gid)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ccache: %w", err)
	}
	return nil
}

// writeTemp writes data to a new private file beside path, named so that
// no reader mistakes it for a cache (a leading dot), synced, handed to
// uid:gid when uid >= 0, and closed. The caller renames or links it into place.
func writeTemp(path string, data []byte, uid, gid int) (string, error) {
	dir := filepath.Dir(path)
	var f *os.File
	var err error
	for i := 0; ; i++ {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.%d.tmp", filepath.Base(path), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !os.IsExist(err) || i > 100 {
			return "", fmt.Errorf("ccache: create temporary file in %s: %w", dir, err)
		}
	}
	tmp := f.Name()
	if err := fillTemp(f, data, uid, gid); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("ccache: close %s: %w", tmp, err)
	}
	return tmp, nil
}

func fillTemp(f *os.File, data []byte, uid, gid int) error {
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("ccache: write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ccache: sync %s: %w", f.Name(), err)
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("ccache: hand %s to %d:%d: %w", f.Name(), uid, gid, err)
		}
	}
	return nil
}

// ReadFile parses the cache at path.
func ReadFile(path string) (*CCache, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	return Parse(data)
}

// Locate returns the file a ccache name denotes, as MIT resolves it: name is
// KRB5CCNAME's value ("FILE:/path" or "/path"); empty means the default
// /tmp/krb5cc_UID. Other cache types are refused by name.
func Locate(name string, uid int) (string, error) {
	if name == "" {
		return fmt.Sprintf("/tmp/krb5cc_%d", uid), nil
	}
	typ, rest, found := strings.Cut(name, ":")
	if !found || strings.HasPrefix(name, "/") {
		return name, nil
	}
	if typ == "FILE" || typ == "WRFILE" {
		if rest == "" {
			return "", errors.New("ccache: FILE: with no path")
		}
		return rest, nil
	}
	return "", fmt.Errorf("ccache: %q caches are not supported; use a FILE: cache (KRB5CCNAME=FILE:/path)", typ)
}
