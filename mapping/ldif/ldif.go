// Package ldif is the embedded account directory: an LDIF file (RFC 2849)
// read into memory, implementing [mapping.Directory] with the same
// semantics as the LDAP backend. It is the default when no LDAP server is
// configured, and the fake the mapping tests run against besides slapd.
//
// Call [Load] (or [Read]) and hand the result to [mapping.New]:
//
//	dir, err := ldif.Load("accounts.ldif")
//	mapper := mapping.New(dir, mapping.Policy{}, mapping.Options{})
//
// Only content records are accepted (no changetype), with "attr: value",
// "attr:: base64", continuation lines and comments; "attr:< URL" is refused.
package ldif

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/mapping"
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("ldif: syntax error")

// maxLine bounds one physical line, so a corrupt file cannot exhaust memory
// in one read.
const maxLine = 1 << 20

// Parse reads every entry of an LDIF stream.
func Parse(r io.Reader) ([]mapping.Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var (
		entries []mapping.Entry
		lines   []string // logical lines of the current record
		lineNo  int
		start   int // line number of the current record
		first   = true
		comment bool
	)
	seen := map[string]bool{}
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		if first && len(entries) == 0 && strings.HasPrefix(lines[0], "version:") {
			if strings.TrimSpace(strings.TrimPrefix(lines[0], "version:")) != "1" {
				return fmt.Errorf("%w: line %d: unsupported LDIF version", ErrSyntax, start)
			}
			lines = lines[1:]
		}
		first = false
		if len(lines) == 0 {
			return nil
		}
		e, err := parseRecord(lines)
		if err != nil {
			return fmt.Errorf("%w: record at line %d: %v", ErrSyntax, start, err)
		}
		key := mapping.FoldValue(e.DN)
		if seen[key] {
			return fmt.Errorf("%w: record at line %d: duplicate dn %q", ErrSyntax, start, e.DN)
		}
		seen[key] = true
		entries = append(entries, e)
		lines = nil
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			comment = false
			if err := flush(); err != nil {
				return nil, err
			}
		case line[0] == ' ':
			if comment {
				continue
			}
			if len(lines) == 0 {
				return nil, fmt.Errorf("%w: line %d: continuation without a line to continue", ErrSyntax, lineNo)
			}
			lines[len(lines)-1] += line[1:]
		case line[0] == '#':
			comment = true
		default:
			comment = false
			if len(lines) == 0 {
				start = lineNo
			}
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrSyntax, lineNo+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseRecord(lines []string) (mapping.Entry, error) {
	e := mapping.Entry{Attrs: map[string][][]byte{}}
	for i, line := range lines {
		name, value, err := parseLine(line)
		if err != nil {
			return mapping.Entry{}, err
		}
		if i == 0 {
			if name != "dn" {
				return mapping.Entry{}, errors.New("the first line must be the dn")
			}
			if len(value) == 0 {
				return mapping.Entry{}, errors.New("empty dn")
			}
			if _, err := goldap.ParseDN(string(value)); err != nil {
				return mapping.Entry{}, fmt.Errorf("bad dn %q: %v", value, err)
			}
			e.DN = string(value)
			continue
		}
		switch name {
		case "dn":
			return mapping.Entry{}, errors.New("second dn: in one record")
		case "changetype", "control":
			return mapping.Entry{}, errors.New("change records are not supported")
		}
		e.Attrs[name] = append(e.Attrs[name], value)
	}
	return e, nil
}

// parseLine splits "attr: value" or "attr:: base64" and returns the
// attribute name in lower case, without a ";binary" option.
func parseLine(line string) (string, []byte, error) {
	name, rest, ok := strings.Cut(line, ":")
	if !ok {
		return "", nil, fmt.Errorf("no colon in %q", truncate(line))
	}
	if !validAttr(name) {
		return "", nil, fmt.Errorf("bad attribute description %q", truncate(name))
	}
	name = strings.ToLower(name)
	name = strings.TrimSuffix(name, ";binary")
	switch {
	case strings.HasPrefix(rest, ":"):
		v, err := base64.StdEncoding.DecodeString(strings.TrimLeft(rest[1:], " "))
		if err != nil {
			return "", nil, fmt.Errorf("%s: bad base64", name)
		}
		return name, v, nil
	case strings.HasPrefix(rest, "<"):
		return "", nil, fmt.Errorf("%s: URL values are not supported", name)
	}
	return name, []byte(strings.TrimLeft(rest, " ")), nil
}

func validAttr(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case (c >= '0' && c <= '9') || c == '-' || c == ';' || c == '.':
			if i == 0 && c != '.' && !(c >= '0' && c <= '9') {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Directory is an in-memory directory. It is read-only and safe for
// concurrent use.
type Directory struct {
	entries []mapping.Entry
}

// New returns a directory over entries.
func New(entries []mapping.Entry) *Directory {
	return &Directory{entries: entries}
}

// Read parses r into a directory.
func Read(r io.Reader) (*Directory, error) {
	entries, err := Parse(r)
	if err != nil {
		return nil, err
	}
	return New(entries), nil
}

// Load reads the LDIF file at path.
func Load(path string) (*Directory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ldif: %w", err)
	}
	defer f.Close()
	d, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return d, nil
}

// Entries returns the directory's entries.
func (d *Directory) Entries() []mapping.Entry { return d.entries }

func hasClass(e mapping.Entry, class string) bool {
	for _, v := range e.Get(mapping.AttrObjectClass) {
		if strings.EqualFold(strings.TrimSpace(string(v)), class) {
			return true
		}
	}
	return false
}

// findUsers returns the user entries with a value of attr for which match
// is true.
func (d *Directory) findUsers(ctx context.Context, attr string, match func([]byte) bool) ([]mapping.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []mapping.Entry
	for _, e := range d.entries {
		if !hasClass(e, "user") {
			continue
		}
		for _, v := range e.Get(attr) {
			if match(v) {
				out = append(out, e)
				break
			}
		}
	}
	return out, nil
}

func foldEqual(want string) func([]byte) bool {
	w := mapping.FoldValue(want)
	return func(v []byte) bool { return mapping.FoldValue(string(v)) == w }
}

// FindByUPN implements [mapping.Directory].
func (d *Directory) FindByUPN(ctx context.Context, upn string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, mapping.AttrUPN, foldEqual(upn))
}

// FindBySAMAccountName implements [mapping.Directory].
func (d *Directory) FindBySAMAccountName(ctx context.Context, name string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, mapping.AttrSAMAccountName, foldEqual(name))
}

// FindBySID implements [mapping.Directory].
func (d *Directory) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	want := sid.Marshal()
	return d.findUsers(ctx, mapping.AttrObjectSID, func(v []byte) bool { return bytes.Equal(v, want) })
}

// FindByAltSecID implements [mapping.Directory].
func (d *Directory) FindByAltSecID(ctx context.Context, values []string) ([]mapping.Entry, error) {
	if len(values) == 0 {
		return nil, ctx.Err()
	}
	want := map[string]bool{}
	for _, v := range values {
		want[mapping.FoldValue(v)] = true
	}
	return d.findUsers(ctx, mapping.AttrAltSecurityIDs, func(v []byte) bool { return want[mapping.FoldValue(string(v))] })
}

// GroupsOf implements [mapping.Directory].
func (d *Directory) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	target, err := goldap.ParseDN(dn)
	if err != nil {
		return nil, fmt.Errorf("ldif: bad dn %q: %w", dn, err)
	}
	var out []mapping.Entry
	for _, e := range d.entries {
		if !hasClass(e, "group") {
			continue
		}
		for _, v := range e.Get(mapping.AttrMember) {
			m, err := goldap.ParseDN(string(v))
			if err == nil && m.EqualFold(target) {
				out = append(out, e)
				break
			}
		}
	}
	return out, nil
}
