package certs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is wrapped by every parse error in this package.
var ErrMalformed = errors.New("certs: malformed encoding")

// nameTypePrincipal is KRB5-NT-PRINCIPAL, RFC 4120 §6.2.
const nameTypePrincipal int32 = 1

// tagGeneralString is the universal tag of KerberosString, RFC 4120 §5.2.1.
const tagGeneralString = cbasn1.Tag(27)

// PrincipalName is a KRB5PrincipalName (RFC 4556 §3.2.2): the Kerberos
// principal carried by the id-pkinit-san otherName.
type PrincipalName struct {
	NameType int32
	Name     []string
	Realm    string
}

// String returns the principal in the usual text form, "alice@EXAMPLE.COM"
// or "krbtgt/EXAMPLE.COM@EXAMPLE.COM", with '/', '@' and '\' in components
// escaped by a backslash.
func (p PrincipalName) String() string {
	var b strings.Builder
	for i, c := range p.Name {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(escapePrincipal(c))
	}
	b.WriteByte('@')
	b.WriteString(escapePrincipal(p.Realm))
	return b.String()
}

func escapePrincipal(s string) string {
	if !strings.ContainsAny(s, `/@\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '/' || r == '@' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Equal reports whether p and q name the same principal with the same name type.
func (p PrincipalName) Equal(q PrincipalName) bool {
	if p.NameType != q.NameType || p.Realm != q.Realm || len(p.Name) != len(q.Name) {
		return false
	}
	for i := range p.Name {
		if p.Name[i] != q.Name[i] {
			return false
		}
	}
	return true
}

// ParsePrincipalName parses the text form "comp1/comp2@REALM" (backslash
// escapes allowed) into a principal of name type KRB5-NT-PRINCIPAL; callers
// that want another name type set NameType afterwards.
func ParsePrincipalName(s string) (PrincipalName, error) {
	p := PrincipalName{NameType: nameTypePrincipal}
	var cur strings.Builder
	inRealm := false
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '/' && !inRealm:
			p.Name = append(p.Name, cur.String())
			cur.Reset()
		case r == '@' && !inRealm:
			p.Name = append(p.Name, cur.String())
			cur.Reset()
			inRealm = true
		case r == '/' || r == '@':
			return PrincipalName{}, fmt.Errorf("certs: principal %q: unescaped %q in the realm", s, r)
		default:
			cur.WriteRune(r)
		}
	}
	if escaped {
		return PrincipalName{}, fmt.Errorf("certs: principal %q ends with a lone backslash", s)
	}
	if !inRealm {
		return PrincipalName{}, fmt.Errorf("certs: principal %q has no realm (want name@REALM)", s)
	}
	p.Realm = cur.String()
	if err := p.validate(); err != nil {
		return PrincipalName{}, err
	}
	return p, nil
}

func (p PrincipalName) validate() error {
	if p.Realm == "" {
		return fmt.Errorf("certs: principal has an empty realm")
	}
	if len(p.Name) == 0 {
		return fmt.Errorf("certs: principal has no name components")
	}
	for _, c := range p.Name {
		if c == "" {
			return fmt.Errorf("certs: principal has an empty name component")
		}
		if !utf8.ValidString(c) {
			return fmt.Errorf("certs: principal name component is not UTF-8")
		}
	}
	if !utf8.ValidString(p.Realm) {
		return fmt.Errorf("certs: principal realm is not UTF-8")
	}
	return nil
}

// Marshal returns the DER KRB5PrincipalName (RFC 4556 §3.2.2).
func (p PrincipalName) Marshal() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	p.marshalTo(&b)
	return b.Bytes()
}

func (p PrincipalName) marshalTo(b *cryptobyte.Builder) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(tagGeneralString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(p.Realm)) })
		})
		b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1Int64(int64(p.NameType))
				})
				b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, c := range p.Name {
							b.AddASN1(tagGeneralString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(c)) })
						}
					})
				})
			})
		})
	})
}

// UnmarshalPrincipalName parses a DER KRB5PrincipalName (RFC 4556 §3.2.2).
// It rejects trailing data.
func UnmarshalPrincipalName(der []byte) (PrincipalName, error) {
	s := cryptobyte.String(der)
	p, err := readPrincipalName(&s)
	if err != nil {
		return PrincipalName{}, err
	}
	if !s.Empty() {
		return PrincipalName{}, fmt.Errorf("%w: trailing data after KRB5PrincipalName", ErrMalformed)
	}
	return p, nil
}

func readPrincipalName(s *cryptobyte.String) (PrincipalName, error) {
	bad := func(what string) (PrincipalName, error) {
		return PrincipalName{}, fmt.Errorf("%w: KRB5PrincipalName: %s", ErrMalformed, what)
	}
	var seq, realmT, nameT, realm, name, typT, compsT, comps cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return bad("not a SEQUENCE")
	}
	if !seq.ReadASN1(&realmT, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!realmT.ReadASN1(&realm, tagGeneralString) || !realmT.Empty() {
		return bad("bad realm")
	}
	if !seq.ReadASN1(&nameT, cbasn1.Tag(1).ContextSpecific().Constructed()) || !seq.Empty() {
		return bad("bad principalName")
	}
	if !nameT.ReadASN1(&name, cbasn1.SEQUENCE) || !nameT.Empty() {
		return bad("bad PrincipalName")
	}
	var nt int32
	if !name.ReadASN1(&typT, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!typT.ReadASN1Integer(&nt) || !typT.Empty() {
		return bad("bad name-type")
	}
	if !name.ReadASN1(&compsT, cbasn1.Tag(1).ContextSpecific().Constructed()) || !name.Empty() ||
		!compsT.ReadASN1(&comps, cbasn1.SEQUENCE) || !compsT.Empty() {
		return bad("bad name-string")
	}
	p := PrincipalName{NameType: nt, Realm: string(realm)}
	for !comps.Empty() {
		var c cryptobyte.String
		if !comps.ReadASN1(&c, tagGeneralString) {
			return bad("bad name component")
		}
		p.Name = append(p.Name, string(c))
	}
	if err := p.validate(); err != nil {
		return PrincipalName{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, nil
}
