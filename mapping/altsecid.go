package mapping

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// AltSecKind is one of the six X509 forms of altSecurityIdentities.
type AltSecKind int

const (
	KindIssuerSubject AltSecKind = iota + 1 // X509:<I>issuer<S>subject (weak)
	KindSubject                             // X509:<S>subject (weak)
	KindIssuerSerial                        // X509:<I>issuer<SR>serial, byte-reversed hex (strong)
	KindSKI                                 // X509:<SKI>subject key identifier, hex (strong)
	KindSHA1PublicKey                       // X509:<SHA1-PUKEY>SHA-1 of the whole DER certificate, hex (strong)
	KindRFC822                              // X509:<RFC822>e-mail address (weak)
)

var kindNames = map[AltSecKind]string{
	KindIssuerSubject: "<I><S>",
	KindSubject:       "<S>",
	KindIssuerSerial:  "<I><SR>",
	KindSKI:           "<SKI>",
	KindSHA1PublicKey: "<SHA1-PUKEY>",
	KindRFC822:        "<RFC822>",
}

func (k AltSecKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("AltSecKind(%d)", int(k))
}

// Strong reports whether KB5014754 counts the form as a strong mapping: the
// forms that name one certificate, not anyone who can get a certificate
// with a chosen subject or e-mail address.
func (k AltSecKind) Strong() bool {
	return k == KindIssuerSerial || k == KindSKI || k == KindSHA1PublicKey
}

// AltSecID is one explicit certificate mapping, as stored in an account's
// altSecurityIdentities attribute. Issuer and Subject are distinguished
// names in the form Windows writes them (see [WindowsDN]); Serial is the
// certificate's serial number as its DER INTEGER content (big-endian).
type AltSecID struct {
	Kind    AltSecKind
	Issuer  string // KindIssuerSubject, KindIssuerSerial
	Subject string // KindIssuerSubject, KindSubject
	Serial  []byte // KindIssuerSerial
	SKI     []byte // KindSKI
	Hash    []byte // KindSHA1PublicKey: SHA-1 over the whole DER certificate
	Email   string // KindRFC822
}

// ErrNotX509 is returned by [ParseAltSecID] for altSecurityIdentities values
// that are not certificate mappings (AD also stores "Kerberos:" names there).
var ErrNotX509 = errors.New("mapping: not an X509 altSecurityIdentities value")

// ErrMalformedAltSecID is wrapped by every other [ParseAltSecID] error.
var ErrMalformedAltSecID = errors.New("mapping: malformed altSecurityIdentities value")

// String returns the value as Windows writes it: "X509:" and the tags in
// upper case, <SR> in upper-case hex, <SKI> and <SHA1-PUKEY> in lower-case
// hex (the casing of Microsoft's own examples; AD compares them
// case-insensitively).
func (a AltSecID) String() string {
	switch a.Kind {
	case KindIssuerSubject:
		return "X509:<I>" + a.Issuer + "<S>" + a.Subject
	case KindSubject:
		return "X509:<S>" + a.Subject
	case KindIssuerSerial:
		return "X509:<I>" + a.Issuer + "<SR>" + strings.ToUpper(hex.EncodeToString(reversed(a.Serial)))
	case KindSKI:
		return "X509:<SKI>" + hex.EncodeToString(a.SKI)
	case KindSHA1PublicKey:
		return "X509:<SHA1-PUKEY>" + hex.EncodeToString(a.Hash)
	case KindRFC822:
		return "X509:<RFC822>" + a.Email
	}
	return ""
}

// Equal reports whether a and b match the way AD's caseIgnoreMatch on
// altSecurityIdentities matches them.
func (a AltSecID) Equal(b AltSecID) bool {
	return FoldValue(a.String()) == FoldValue(b.String())
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, x := range b {
		r[len(b)-1-i] = x
	}
	return r
}

// ParseAltSecID parses one altSecurityIdentities value in any of the six
// X509 forms. Tags are matched case-insensitively, as AD does; DN values are
// kept as written, up to the next tag outside double quotes.
func ParseAltSecID(s string) (AltSecID, error) {
	bad := func(why string) (AltSecID, error) {
		return AltSecID{}, fmt.Errorf("%w: %s", ErrMalformedAltSecID, why)
	}
	if !utf8.ValidString(s) {
		return bad("not UTF-8")
	}
	const prefix = "X509:"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return AltSecID{}, ErrNotX509
	}
	rest := s[len(prefix):]
	tag, rest, err := readTag(rest)
	if err != nil {
		return bad(err.Error())
	}
	switch tag {
	case "SKI":
		b, err := parseHex(rest, 0)
		if err != nil {
			return bad("<SKI>: " + err.Error())
		}
		return AltSecID{Kind: KindSKI, SKI: b}, nil
	case "SHA1-PUKEY":
		b, err := parseHex(rest, sha1.Size)
		if err != nil {
			return bad("<SHA1-PUKEY>: " + err.Error())
		}
		return AltSecID{Kind: KindSHA1PublicKey, Hash: b}, nil
	case "RFC822":
		if rest == "" {
			return bad("<RFC822> is empty")
		}
		return AltSecID{Kind: KindRFC822, Email: rest}, nil
	case "S":
		if err := checkDN(rest); err != nil {
			return bad("<S>: " + err.Error())
		}
		return AltSecID{Kind: KindSubject, Subject: rest}, nil
	case "I":
		issuer, rest, err := readDN(rest)
		if err != nil {
			return bad("<I>: " + err.Error())
		}
		tag, rest, err := readTag(rest)
		if err != nil {
			return bad(err.Error())
		}
		switch tag {
		case "S":
			if err := checkDN(rest); err != nil {
				return bad("<S>: " + err.Error())
			}
			return AltSecID{Kind: KindIssuerSubject, Issuer: issuer, Subject: rest}, nil
		case "SR":
			b, err := parseHex(rest, 0)
			if err != nil {
				return bad("<SR>: " + err.Error())
			}
			return AltSecID{Kind: KindIssuerSerial, Issuer: issuer, Serial: reversed(b)}, nil
		}
		return bad("<I> must be followed by <S> or <SR>, not <" + tag + ">")
	}
	return bad("unknown tag <" + tag + ">")
}

// readTag reads "<TAG>" and returns TAG in upper case.
func readTag(s string) (tag, rest string, err error) {
	if !strings.HasPrefix(s, "<") {
		return "", "", errors.New("want a <TAG>")
	}
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return "", "", errors.New("unterminated <TAG>")
	}
	return strings.ToUpper(s[1:end]), s[end+1:], nil
}

// readDN reads a DN up to the next '<' outside double quotes.
func readDN(s string) (dn, rest string, err error) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				if i == 0 {
					return "", "", errors.New("empty name")
				}
				return s[:i], s[i:], nil
			}
		}
	}
	return "", "", errors.New("no tag follows the name")
}

// checkDN checks a DN that runs to the end of the value.
func checkDN(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if strings.Count(s, `"`)%2 != 0 {
		return errors.New("unbalanced quotes")
	}
	return nil
}

func parseHex(s string, size int) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("not hex")
	}
	if size != 0 && len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

// AltSecIDsFor returns every altSecurityIdentities value that would map c:
// <I><S> and <S> when c has a subject, <I><SR>, <SKI> when c has a subject
// key identifier, <SHA1-PUKEY>, and <RFC822> for each rfc822Name in its
// subjectAltName.
func AltSecIDsFor(c *x509.Certificate) ([]AltSecID, error) {
	issuer, err := WindowsDN(c.RawIssuer)
	if err != nil {
		return nil, fmt.Errorf("mapping: issuer: %w", err)
	}
	subject, err := WindowsDN(c.RawSubject)
	if err != nil {
		return nil, fmt.Errorf("mapping: subject: %w", err)
	}
	var ids []AltSecID
	if subject != "" && issuer != "" {
		ids = append(ids, AltSecID{Kind: KindIssuerSubject, Issuer: issuer, Subject: subject})
	}
	if subject != "" {
		ids = append(ids, AltSecID{Kind: KindSubject, Subject: subject})
	}
	if issuer != "" && c.SerialNumber != nil && c.SerialNumber.Sign() > 0 {
		serial := c.SerialNumber.Bytes()
		if serial[0]&0x80 != 0 {
			// The DER INTEGER content keeps a sign byte; Windows reverses the content.
			serial = append([]byte{0}, serial...)
		}
		ids = append(ids, AltSecID{Kind: KindIssuerSerial, Issuer: issuer, Serial: serial})
	}
	if len(c.SubjectKeyId) > 0 {
		ids = append(ids, AltSecID{Kind: KindSKI, SKI: append([]byte(nil), c.SubjectKeyId...)})
	}
	h := sha1.Sum(c.Raw)
	ids = append(ids, AltSecID{Kind: KindSHA1PublicKey, Hash: h[:]})
	for _, e := range c.EmailAddresses {
		ids = append(ids, AltSecID{Kind: KindRFC822, Email: e})
	}
	return ids, nil
}

// windowsAttrNames are the attribute type names of CertNameToStr
// (CERT_X500_NAME_STR); other types are written "OID.1.2.3".
var windowsAttrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "S",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "E",
}

// WindowsDN formats a DER Name the way Windows writes it into
// altSecurityIdentities: RDNs in encoded order (the reverse of RFC 4514,
// so "DC=com,DC=example,CN=Users,CN=alice"), separated by "," without
// spaces, multi-valued RDNs joined by " + ", CertNameToStr attribute names,
// and values holding , + = " < > # ; or a newline, or with leading or
// trailing spaces, in double quotes with inner quotes doubled.
func WindowsDN(der []byte) (string, error) {
	if s, ok := windowsDNCommon(der); ok {
		return s, nil
	}
	return windowsDNGeneral(der)
}

// windowsDNGeneral is WindowsDN for any Name encoding/asn1 reads.
func windowsDNGeneral(der []byte) (string, error) {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return "", fmt.Errorf("parsing name: %w", err)
	}
	if len(rest) != 0 {
		return "", errors.New("trailing data after name")
	}
	var b strings.Builder
	for i, rdn := range rdns {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, atv := range rdn {
			if j > 0 {
				b.WriteString(" + ")
			}
			name, ok := windowsAttrNames[atv.Type.String()]
			if !ok {
				name = "OID." + atv.Type.String()
			}
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(quoteValue(fmt.Sprint(atv.Value)))
		}
	}
	return b.String(), nil
}

func quoteValue(v string) string {
	if v == "" || (!strings.ContainsAny(v, ",+=\"<>#;\r\n") && strings.TrimSpace(v) == v) {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

// windowsAttrNamesDER are windowsAttrNames by the DER content of their
// OBJECT IDENTIFIER, for windowsDNCommon.
var windowsAttrNamesDER = func() map[string]string {
	m := map[string]string{}
	for dotted, name := range windowsAttrNames {
		var oid asn1.ObjectIdentifier
		for _, arc := range strings.Split(dotted, ".") {
			n, err := strconv.Atoi(arc)
			if err != nil {
				panic("mapping: bad OID in windowsAttrNames: " + dotted)
			}
			oid = append(oid, n)
		}
		der, err := asn1.Marshal(oid)
		if err != nil {
			panic("mapping: bad OID in windowsAttrNames: " + dotted)
		}
		in, content := cryptobyte.String(der), cryptobyte.String(nil)
		if !in.ReadASN1(&content, cbasn1.OBJECT_IDENTIFIER) {
			panic("mapping: bad OID in windowsAttrNames: " + dotted)
		}
		m[string(content)] = name
	}
	return m
}()

// windowsDNCommon is WindowsDN for the names certificates carry, read
// without reflection: every RDN non-empty, each attribute one of
// windowsAttrNames with a PrintableString, IA5String or UTF8String value,
// and nothing else in the attribute's SEQUENCE. It reports false for any
// other name, and for any encoding encoding/asn1 might read otherwise, so
// that windowsDNGeneral decides those exactly as before.
func windowsDNCommon(der []byte) (string, bool) {
	// encoding/asn1 refuses lengths from 2^23 up, cryptobyte does not.
	if len(der) >= 1<<16 {
		return "", false
	}
	input := cryptobyte.String(der)
	var rdns cryptobyte.String
	if !input.ReadASN1(&rdns, cbasn1.SEQUENCE) || !input.Empty() {
		return "", false
	}
	b := make([]byte, 0, len(der))
	for first := true; !rdns.Empty(); first = false {
		var rdn cryptobyte.String
		if !rdns.ReadASN1(&rdn, cbasn1.SET) || rdn.Empty() {
			return "", false
		}
		if !first {
			b = append(b, ',')
		}
		for firstATV := true; !rdn.Empty(); firstATV = false {
			name, value, ok := readCommonATV(&rdn)
			if !ok {
				return "", false
			}
			if !firstATV {
				b = append(b, " + "...)
			}
			b = append(b, name...)
			b = append(b, '=')
			b = append(b, quoteValue(value)...)
		}
	}
	return string(b), true
}

// readCommonATV reads one AttributeTypeAndValue for windowsDNCommon: its
// CertNameToStr name and its value as encoding/asn1 would give it.
func readCommonATV(rdn *cryptobyte.String) (name, value string, ok bool) {
	var atv, oid, v cryptobyte.String
	var tag cbasn1.Tag
	if !rdn.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!atv.ReadAnyASN1(&v, &tag) || !atv.Empty() {
		return "", "", false
	}
	name, ok = windowsAttrNamesDER[string(oid)]
	if !ok {
		return "", "", false
	}
	switch tag {
	case cbasn1.PrintableString:
		for _, c := range v {
			if !asn1Printable(c) {
				return "", "", false
			}
		}
	case cbasn1.IA5String:
		for _, c := range v {
			if c >= utf8.RuneSelf {
				return "", "", false
			}
		}
	case cbasn1.UTF8String:
		if !utf8.Valid(v) {
			return "", "", false
		}
	default:
		return "", "", false
	}
	return name, string(v), true
}

// asn1Printable is the PrintableString alphabet encoding/asn1 accepts in
// certificates: the X.680 one, with '*' and '&'.
func asn1Printable(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		'\'' <= c && c <= ')' || '+' <= c && c <= '/' ||
		c == ' ' || c == ':' || c == '=' || c == '?' || c == '*' || c == '&'
}
