package certs

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const (
	sidRevision   = 1
	sidMaxSubAuth = 15
	sidMaxAuth    = 1<<48 - 1
)

// SID is a Windows security identifier (MS-DTYP §2.4.2). It is comparable
// with ==; the zero SID is invalid and reported by IsZero.
type SID struct {
	authority uint64
	n         uint8
	sub       [sidMaxSubAuth]uint32
}

// NewSID builds a revision-1 SID from its identifier authority (48 bits) and
// up to 15 sub-authorities.
func NewSID(authority uint64, subAuthorities ...uint32) (SID, error) {
	if authority > sidMaxAuth {
		return SID{}, fmt.Errorf("certs: SID authority %d exceeds 48 bits", authority)
	}
	if len(subAuthorities) > sidMaxSubAuth {
		return SID{}, fmt.Errorf("certs: SID has %d sub-authorities, at most %d allowed", len(subAuthorities), sidMaxSubAuth)
	}
	s := SID{authority: authority, n: uint8(len(subAuthorities))}
	copy(s.sub[:], subAuthorities)
	return s, nil
}

// IsZero reports whether s is the zero value, which is no SID at all.
func (s SID) IsZero() bool { return s == SID{} }

// Authority returns the 48-bit identifier authority (5 for NT AUTHORITY).
func (s SID) Authority() uint64 { return s.authority }

// SubAuthorities returns a copy of the sub-authorities.
func (s SID) SubAuthorities() []uint32 { return append([]uint32(nil), s.sub[:s.n]...) }

// RID returns the last sub-authority (the relative identifier of an account
// SID), or 0 when there is none.
func (s SID) RID() uint32 {
	if s.n == 0 {
		return 0
	}
	return s.sub[s.n-1]
}

// String returns the "S-1-5-21-…" form. Authorities of 2^32 and above are
// written in hex, as Windows does.
func (s SID) String() string {
	var b strings.Builder
	b.WriteString("S-1-")
	if s.authority >= 1<<32 {
		fmt.Fprintf(&b, "0x%012X", s.authority)
	} else {
		b.WriteString(strconv.FormatUint(s.authority, 10))
	}
	for _, v := range s.sub[:s.n] {
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

// ParseSID parses the canonical string form "S-1-5-21-…". Leading zeros,
// signs and lower-case prefixes are rejected so that String round-trips.
func ParseSID(str string) (SID, error) {
	bad := func(why string) (SID, error) {
		return SID{}, fmt.Errorf("%w: SID %q: %s", ErrMalformed, str, why)
	}
	parts := strings.Split(str, "-")
	if len(parts) < 3 || parts[0] != "S" {
		return bad(`want "S-1-<authority>-…"`)
	}
	if parts[1] != "1" {
		return bad("revision is not 1")
	}
	var auth uint64
	if a, ok := strings.CutPrefix(parts[2], "0x"); ok {
		if len(a) != 12 || strings.ToUpper(a) != a {
			return bad("hex authority must be 0x and 12 upper-case digits")
		}
		v, err := strconv.ParseUint(a, 16, 64)
		if err != nil || v < 1<<32 {
			return bad("bad hex authority")
		}
		auth = v
	} else {
		v, err := parseDecimal(parts[2], 32)
		if err != nil {
			return bad("bad authority")
		}
		auth = v
	}
	subs := make([]uint32, 0, len(parts)-3)
	for _, p := range parts[3:] {
		v, err := parseDecimal(p, 32)
		if err != nil {
			return bad("bad sub-authority")
		}
		subs = append(subs, uint32(v))
	}
	s, err := NewSID(auth, subs...)
	if err != nil {
		return SID{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return s, nil
}

func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(s, 10, bits)
}

// Marshal returns the binary SID as stored in AD's objectSid: revision,
// sub-authority count, 48-bit big-endian authority, little-endian
// sub-authorities.
func (s SID) Marshal() []byte {
	b := make([]byte, 8, 8+4*int(s.n))
	b[0] = sidRevision
	b[1] = s.n
	for i := 0; i < 6; i++ {
		b[2+i] = byte(s.authority >> (8 * (5 - i)))
	}
	for _, v := range s.sub[:s.n] {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// UnmarshalSID parses the binary form written by [SID.Marshal]; the length
// must match the sub-authority count exactly.
func UnmarshalSID(b []byte) (SID, error) {
	if len(b) < 8 {
		return SID{}, fmt.Errorf("%w: binary SID shorter than 8 bytes", ErrMalformed)
	}
	if b[0] != sidRevision {
		return SID{}, fmt.Errorf("%w: binary SID revision %d, want 1", ErrMalformed, b[0])
	}
	n := int(b[1])
	if n > sidMaxSubAuth {
		return SID{}, fmt.Errorf("%w: binary SID has %d sub-authorities", ErrMalformed, n)
	}
	if len(b) != 8+4*n {
		return SID{}, fmt.Errorf("%w: binary SID is %d bytes, want %d", ErrMalformed, len(b), 8+4*n)
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := SID{authority: auth, n: uint8(n)}
	for i := 0; i < n; i++ {
		s.sub[i] = binary.LittleEndian.Uint32(b[8+4*i:])
	}
	return s, nil
}

// SIDExtension returns the non-critical szOID_NTDS_CA_SECURITY_EXT
// extension that AD CS writes since KB5014754.
func SIDExtension(s SID) (pkix.Extension, error) {
	if s.IsZero() {
		return pkix.Extension{}, fmt.Errorf("certs: cannot encode the zero SID")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addOtherName(b, OIDNTDSObjectSID, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString([]byte(s.String()))
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("certs: encoding SID extension: %w", err)
	}
	return pkix.Extension{Id: OIDNTDSCASecurityExt, Value: der}, nil
}

// ParseSIDExtension parses the value of a szOID_NTDS_CA_SECURITY_EXT
// extension. It must hold exactly one szOID_NTDS_OBJECTSID otherName.
func ParseSIDExtension(der []byte) (SID, error) {
	var sid SID
	found := false
	err := walkGeneralNames(der, "SID extension", func(tag cbasn1.Tag, oid asn1.ObjectIdentifier, v cryptobyte.String) error {
		if tag != tagOtherName || !oid.Equal(OIDNTDSObjectSID) {
			return nil
		}
		if found {
			return fmt.Errorf("%w: SID extension holds more than one SID", ErrMalformed)
		}
		var str cryptobyte.String
		if !v.ReadASN1(&str, cbasn1.OCTET_STRING) || !v.Empty() {
			return fmt.Errorf("%w: SID otherName is not one OCTET STRING", ErrMalformed)
		}
		s, err := ParseSID(string(str))
		if err != nil {
			return err
		}
		sid, found = s, true
		return nil
	})
	if err != nil {
		return SID{}, err
	}
	if !found {
		return SID{}, fmt.Errorf("%w: SID extension holds no szOID_NTDS_OBJECTSID", ErrMalformed)
	}
	return sid, nil
}

// SIDFromCert returns the SID from c's szOID_NTDS_CA_SECURITY_EXT
// extension; ok is false when c has none.
func SIDFromCert(c *x509.Certificate) (sid SID, ok bool, err error) {
	v, found := findExtension(c, OIDNTDSCASecurityExt)
	if !found {
		return SID{}, false, nil
	}
	sid, err = ParseSIDExtension(v)
	if err != nil {
		return SID{}, false, err
	}
	return sid, true, nil
}
