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
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"

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
//
// It indexes its entries by every attribute the Find methods match and
// groups by their members, so that a lookup costs a map access rather than
// a scan that folds every value of every entry.
type Directory struct {
	entries []mapping.Entry
	// Indexes of user entries, in directory order, by the FoldValue of a
	// value (objectSid: by its octets).
	byAttr map[string]map[string][]int
	// Indexes of group entries, in directory order, by the dnKey of a member.
	byMember map[string][]int
	// members are the parsed member DNs of each group entry, by index.
	members map[int][]*goldap.DN
	// ownDNs are the user and group entries' own DNs, parsed and keyed, by
	// their text: GroupsOf is asked about those, and need not parse them.
	ownDNs map[string]keyedDN
}

// keyedDN is a parsed DN and its dnKey.
type keyedDN struct {
	dn  *goldap.DN
	key string
}

// foldedAttrs are the attributes matched under caseIgnoreMatch.
var foldedAttrs = []string{mapping.AttrUPN, mapping.AttrSAMAccountName, mapping.AttrAltSecurityIDs}

// New returns a directory over entries, which it indexes: they must not
// change afterwards.
func New(entries []mapping.Entry) *Directory {
	d := &Directory{entries: entries, byAttr: map[string]map[string][]int{}, byMember: map[string][]int{},
		members: map[int][]*goldap.DN{}, ownDNs: map[string]keyedDN{}}
	for _, attr := range append([]string{mapping.AttrObjectSID}, foldedAttrs...) {
		d.byAttr[attr] = map[string][]int{}
	}
	for i, e := range entries {
		user, group := hasClass(e, "user"), hasClass(e, "group")
		if user {
			d.indexUser(i, e)
		}
		if group {
			d.indexGroup(i, e)
		}
		if dn, err := goldap.ParseDN(e.DN); err == nil && (user || group) {
			d.ownDNs[e.DN] = keyedDN{dn, dnKey(dn)}
		}
	}
	return d
}

// indexUser adds user entry i under each value of the attributes the Find
// methods match, once per key.
func (d *Directory) indexUser(i int, e mapping.Entry) {
	add := func(attr, key string) {
		idx := d.byAttr[attr]
		if l := idx[key]; len(l) == 0 || l[len(l)-1] != i {
			idx[key] = append(l, i)
		}
	}
	for _, v := range e.Get(mapping.AttrObjectSID) {
		add(mapping.AttrObjectSID, string(v))
	}
	for _, attr := range foldedAttrs {
		for _, v := range e.Get(attr) {
			add(attr, mapping.FoldValue(string(v)))
		}
	}
}

// indexGroup adds group entry i under each member that parses as a DN, once
// per key; a member that does not parse matches no DN, as in a scan.
func (d *Directory) indexGroup(i int, e mapping.Entry) {
	for _, v := range e.Get(mapping.AttrMember) {
		m, err := goldap.ParseDN(string(v))
		if err != nil {
			continue
		}
		d.members[i] = append(d.members[i], m)
		key := dnKey(m)
		if l := d.byMember[key]; len(l) == 0 || l[len(l)-1] != i {
			d.byMember[key] = append(l, i)
		}
	}
}

// dnKey is equal for any two DNs that (*goldap.DN).EqualFold finds equal:
// each attribute type and value with every rune replaced by the least rune
// of its case-folding orbit (strings.EqualFold's equivalence), the
// attributes of an RDN sorted (EqualFold ignores their order). Distinct
// DNs may share a key; GroupsOf compares candidates with EqualFold.
func dnKey(dn *goldap.DN) string {
	var b strings.Builder
	var atvs []string
	for _, rdn := range dn.RDNs {
		atvs = atvs[:0]
		for _, a := range rdn.Attributes {
			atvs = append(atvs, foldOrbit(a.Type)+"="+foldOrbit(a.Value))
		}
		slices.Sort(atvs)
		b.WriteString(strings.Join(atvs, "+"))
		b.WriteByte(',')
	}
	return b.String()
}

// foldOrbit replaces each rune of s with the least rune that
// unicode.SimpleFold reaches from it, so that strings.EqualFold(s, t)
// implies foldOrbit(s) == foldOrbit(t).
func foldOrbit(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
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

// findUsers returns the user entries, in directory order, with a value of
// attr whose index key is one of keys.
func (d *Directory) findUsers(ctx context.Context, attr string, keys ...string) ([]mapping.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	idx := d.byAttr[attr]
	var hits []int
	for _, k := range keys {
		hits = append(hits, idx[k]...)
	}
	if len(keys) > 1 {
		slices.Sort(hits)
		hits = slices.Compact(hits)
	}
	return d.pick(hits), nil
}

// pick returns the entries at indexes.
func (d *Directory) pick(indexes []int) []mapping.Entry {
	if len(indexes) == 0 {
		return nil
	}
	out := make([]mapping.Entry, len(indexes))
	for i, n := range indexes {
		out[i] = d.entries[n]
	}
	return out
}

// FindByUPN implements [mapping.Directory].
func (d *Directory) FindByUPN(ctx context.Context, upn string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, mapping.AttrUPN, mapping.FoldValue(upn))
}

// FindBySAMAccountName implements [mapping.Directory].
func (d *Directory) FindBySAMAccountName(ctx context.Context, name string) ([]mapping.Entry, error) {
	return d.findUsers(ctx, mapping.AttrSAMAccountName, mapping.FoldValue(name))
}

// FindBySID implements [mapping.Directory].
func (d *Directory) FindBySID(ctx context.Context, sid certs.SID) ([]mapping.Entry, error) {
	return d.findUsers(ctx, mapping.AttrObjectSID, string(sid.Marshal()))
}

// FindByAltSecID implements [mapping.Directory].
func (d *Directory) FindByAltSecID(ctx context.Context, values []string) ([]mapping.Entry, error) {
	if len(values) == 0 {
		return nil, ctx.Err()
	}
	keys := make([]string, len(values))
	for i, v := range values {
		keys[i] = mapping.FoldValue(v)
	}
	return d.findUsers(ctx, mapping.AttrAltSecurityIDs, keys...)
}

// GroupsOf implements [mapping.Directory].
func (d *Directory) GroupsOf(ctx context.Context, dn string) ([]mapping.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	target, ok := d.ownDNs[dn]
	if !ok {
		parsed, err := goldap.ParseDN(dn)
		if err != nil {
			return nil, fmt.Errorf("ldif: bad dn %q: %w", dn, err)
		}
		target = keyedDN{parsed, dnKey(parsed)}
	}
	var hits []int
	for _, i := range d.byMember[target.key] {
		for _, m := range d.members[i] {
			if m.EqualFold(target.dn) {
				hits = append(hits, i)
				break
			}
		}
	}
	return d.pick(hits), nil
}
