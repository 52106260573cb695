package pkinit

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The KDC reads a PA-PK-AS-REQ and its AuthPack on every logon, so they are
// decoded here by hand rather than by encoding/asn1's reflection. The reader
// accepts no input that the reflection-based decoder refused, and reads every
// DER encoding of the RFC 4556 types as it did (TestAuthPackDecoderMatches).
// It differs where encoding/asn1 was wrong, by refusing:
//
//   - an [n] EXPLICIT tag whose contents are not exactly one element
//     (encoding/asn1 ignored the tag's length);
//   - an optional field whose tag is present around a value of the wrong
//     type (encoding/asn1 took the field as absent and skipped the value);
//   - bytes after the last known field of a SEQUENCE that are not whole
//     elements (encoding/asn1 ignored any bytes there; whole elements are
//     the extensions the "..." of RFC 4556 allows, and are still skipped);
//   - a UTCTime where KerberosTime, a GeneralizedTime, is due (RFC 4120
//     §5.2.3; encoding/asn1 maps both to time.Time).

// ParseAuthPack decodes an AuthPack, the eContent of the client's SignedData.
// KDFs the package does not know are dropped from SupportedKDFs. The byte
// slices of the result share b's memory, as Raw does.
func ParseAuthPack(b []byte) (*AuthPack, error) {
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("AuthPack", errTrailingOr(in))
	}
	a := &AuthPack{Raw: b}
	w, _, ok := readExplicit(&seq, 0, false)
	if !ok {
		return nil, malformed("AuthPack", errors.New("no pkAuthenticator"))
	}
	if err := a.PKAuthenticator.decode(w); err != nil {
		return nil, err
	}
	if w, present, ok := readExplicit(&seq, 1, true); !ok || present && !readSPKI(&w, &a.ClientPublicValue) {
		return nil, malformed("AuthPack clientPublicValue", nil)
	}
	if w, present, ok := readExplicit(&seq, 2, true); !ok || present && !readAlgorithms(&w, &a.SupportedCMSTypes) {
		return nil, malformed("AuthPack supportedCMSTypes", nil)
	}
	if w, present, ok := readExplicit(&seq, 3, true); !ok || present && !readOctetString(&w, &a.ClientDHNonce) {
		return nil, malformed("AuthPack clientDHNonce", nil)
	}
	if w, present, ok := readExplicit(&seq, 4, true); !ok || present && !readKDFs(&w, &a.SupportedKDFs) {
		return nil, malformed("AuthPack supportedKDFs", nil)
	}
	if !skipExtensions(seq) {
		return nil, malformed("AuthPack", errTrailing)
	}
	return a, nil
}

// decode reads the contents of the [0] around a PKAuthenticator.
func (p *PKAuthenticator) decode(w cryptobyte.String) error {
	var seq cryptobyte.String
	var cusec int32
	var nonce int64
	if !w.ReadASN1(&seq, cbasn1.SEQUENCE) || !w.Empty() {
		return malformed("PKAuthenticator", nil)
	}
	if f, _, ok := readExplicit(&seq, 0, false); !ok || !f.ReadASN1Integer(&cusec) || !f.Empty() {
		return malformed("PKAuthenticator cusec", nil)
	}
	if f, _, ok := readExplicit(&seq, 1, false); !ok || !readGeneralizedTime(&f, &p.CTime) {
		return malformed("PKAuthenticator ctime", nil)
	}
	if f, _, ok := readExplicit(&seq, 2, false); !ok || !f.ReadASN1Integer(&nonce) || !f.Empty() {
		return malformed("PKAuthenticator nonce", nil)
	}
	if f, present, ok := readExplicit(&seq, 3, true); !ok || present && !readOctetString(&f, &p.PAChecksum) {
		return malformed("PKAuthenticator paChecksum", nil)
	}
	if f, present, ok := readExplicit(&seq, 4, true); !ok || present && !readOctetString(&f, &p.FreshnessToken) {
		return malformed("PKAuthenticator freshnessToken", nil)
	}
	if f, present, ok := readExplicit(&seq, 5, true); !ok || present && !readPAChecksum2(&f, &p.PAChecksum2) {
		return malformed("PKAuthenticator paChecksum2", nil)
	}
	if !skipExtensions(seq) {
		return malformed("PKAuthenticator", errTrailing)
	}
	if cusec < 0 || cusec > 999999 {
		return malformed("PKAuthenticator", errors.New("cusec out of range"))
	}
	if nonce < 0 || nonce > 0xffffffff {
		return malformed("PKAuthenticator", errors.New("nonce out of range"))
	}
	p.Cusec, p.Nonce = int(cusec), uint32(nonce)
	p.CTime = p.CTime.UTC()
	return nil
}

// readPAChecksum2 reads a PAChecksum2, RFC 8636 §4, as the whole of w.
func readPAChecksum2(w *cryptobyte.String, out **PAChecksum2) bool {
	var seq cryptobyte.String
	var c PAChecksum2
	if !w.ReadASN1(&seq, cbasn1.SEQUENCE) || !w.Empty() {
		return false
	}
	f, _, ok := readExplicit(&seq, 0, false)
	if !ok || !readOctetString(&f, &c.Checksum) {
		return false
	}
	f, _, ok = readExplicit(&seq, 1, false)
	if !ok || !readAlgorithm(&f, &c.Algorithm) || !f.Empty() || !skipExtensions(seq) {
		return false
	}
	*out = &c
	return true
}

// ParsePKASReq decodes a PA-PK-AS-REQ. It does not open the SignedData:
// pass SignedAuthPack to [VerifySignedData]. The byte slices of the result
// share b's memory, as Raw does.
func ParsePKASReq(b []byte) (*PKASReq, error) {
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("PA-PK-AS-REQ", errTrailingOr(in))
	}
	r := &PKASReq{Raw: b}
	if !readImplicit(&seq, 0, &r.SignedAuthPack) || r.SignedAuthPack == nil {
		return nil, malformed("PA-PK-AS-REQ", errors.New("no signedAuthPack"))
	}
	w, present, ok := readExplicit(&seq, 1, true)
	if !ok || present && !readPrincipalIdentifiers(&w, &r.TrustedCertifiers) {
		return nil, malformed("PA-PK-AS-REQ trustedCertifiers", nil)
	}
	if !readImplicit(&seq, 2, &r.KDCPkID) || !skipExtensions(seq) {
		return nil, malformed("PA-PK-AS-REQ", errTrailing)
	}
	return r, nil
}

// readPrincipalIdentifiers reads a SEQUENCE OF ExternalPrincipalIdentifier
// as the whole of w: present and empty is an empty, non-nil slice.
func readPrincipalIdentifiers(w *cryptobyte.String, out *[]ExternalPrincipalIdentifier) bool {
	var list cryptobyte.String
	if !w.ReadASN1(&list, cbasn1.SEQUENCE) || !w.Empty() {
		return false
	}
	ids := []ExternalPrincipalIdentifier{}
	for !list.Empty() {
		var seq cryptobyte.String
		var id ExternalPrincipalIdentifier
		if !list.ReadASN1(&seq, cbasn1.SEQUENCE) ||
			!readImplicit(&seq, 0, &id.SubjectName) || !readImplicit(&seq, 1, &id.IssuerAndSerialNumber) ||
			!readImplicit(&seq, 2, &id.SubjectKeyIdentifier) || !skipExtensions(seq) {
			return false
		}
		ids = append(ids, id)
	}
	*out = ids
	return true
}

// readSPKI reads a SubjectPublicKeyInfo (RFC 5280 §4.1) as the whole of w,
// checking its shape; out is the element as received.
func readSPKI(w *cryptobyte.String, out *[]byte) bool {
	var elem, seq cryptobyte.String
	var alg pkix.AlgorithmIdentifier
	var key asn1.BitString
	if !w.ReadASN1Element(&elem, cbasn1.SEQUENCE) || !w.Empty() {
		return false
	}
	in := elem
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !readAlgorithm(&seq, &alg) || !seq.ReadASN1BitString(&key) || !skipExtensions(seq) {
		return false
	}
	*out = elem
	return true
}

// readAlgorithms reads a SEQUENCE OF AlgorithmIdentifier as the whole of w:
// present and empty is an empty, non-nil slice.
func readAlgorithms(w *cryptobyte.String, out *[]pkix.AlgorithmIdentifier) bool {
	var list cryptobyte.String
	if !w.ReadASN1(&list, cbasn1.SEQUENCE) || !w.Empty() {
		return false
	}
	algs := make([]pkix.AlgorithmIdentifier, 0, countElements(list))
	for !list.Empty() {
		var a pkix.AlgorithmIdentifier
		if !readAlgorithm(&list, &a) {
			return false
		}
		algs = append(algs, a)
	}
	*out = algs
	return true
}

// readKDFs reads the supportedKDFs, a SEQUENCE OF KDFAlgorithmId (RFC 8636
// §3), as the whole of w. Unknown KDFs are dropped; a list of only unknown
// ones is empty and non-nil (the client asked for a KDF), an empty list is
// as if absent.
func readKDFs(w *cryptobyte.String, out *[]KDF) bool {
	var list cryptobyte.String
	if !w.ReadASN1(&list, cbasn1.SEQUENCE) || !w.Empty() {
		return false
	}
	var kdfs []KDF
	for !list.Empty() {
		var seq, oid cryptobyte.String
		if !list.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return false
		}
		f, _, ok := readExplicit(&seq, 0, false)
		if !ok || !f.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) || !f.Empty() || !skipExtensions(seq) {
			return false
		}
		kdf, valid := kdfOfElement(oid)
		if !valid {
			return false
		}
		if kdfs == nil {
			kdfs = []KDF{}
		}
		if kdf != 0 {
			kdfs = append(kdfs, kdf)
		}
	}
	*out = kdfs
	return true
}

// kdfOfElement maps a DER OBJECT IDENTIFIER element to a known KDF without
// decoding it (a valid OID has one DER encoding); one it does not know must
// still be a valid OID.
func kdfOfElement(elem cryptobyte.String) (KDF, bool) {
	for _, k := range []KDF{KDFSHA1, KDFSHA256, KDFSHA384, KDFSHA512} {
		if string(elem) == string(kdfOIDElements[k]) {
			return k, true
		}
	}
	var oid asn1.ObjectIdentifier
	return 0, elem.ReadASN1ObjectIdentifier(&oid) && elem.Empty()
}

// kdfOIDElements are the DER encodings of the RFC 8636 KDF identifiers.
var kdfOIDElements = func() map[KDF][]byte {
	m := map[KDF][]byte{}
	for _, k := range []KDF{KDFSHA1, KDFSHA256, KDFSHA384, KDFSHA512} {
		var b cryptobyte.Builder
		b.AddASN1ObjectIdentifier(k.oid())
		m[k] = b.BytesOrPanic()
	}
	return m
}()

// readAlgorithm reads an AlgorithmIdentifier, RFC 5280 §4.1.1.2. Its
// parameters are any one element, kept as encoding/asn1 kept them.
func readAlgorithm(s *cryptobyte.String, out *pkix.AlgorithmIdentifier) bool {
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&out.Algorithm) {
		return false
	}
	if !seq.Empty() {
		h, ok := readHeader(seq)
		if !ok || h.hdrLen+h.length > len(seq) {
			return false
		}
		out.Parameters = asn1.RawValue{Class: h.class, Tag: h.tag, IsCompound: h.compound,
			Bytes: seq[h.hdrLen : h.hdrLen+h.length], FullBytes: seq[:h.hdrLen+h.length]}
		seq = seq[h.hdrLen+h.length:]
	}
	return skipExtensions(seq)
}

// readOctetString reads an OCTET STRING as the whole of w; present and empty
// is an empty, non-nil slice.
func readOctetString(w *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !w.ReadASN1(&v, cbasn1.OCTET_STRING) || !w.Empty() {
		return false
	}
	*out = nonNil(v)
	return true
}

// readGeneralizedTime reads a KerberosTime as the whole of w. Fractional
// seconds and a zone offset are accepted, in their DER form, as
// encoding/asn1 accepted them (cryptobyte's reader takes neither).
func readGeneralizedTime(w *cryptobyte.String, out *time.Time) bool {
	const layout = "20060102150405.999999999Z0700"
	var v cryptobyte.String
	if !w.ReadASN1(&v, cbasn1.GeneralizedTime) || !w.Empty() {
		return false
	}
	t, err := time.Parse(layout, string(v))
	if err != nil || t.Format(layout) != string(v) {
		return false
	}
	*out = t
	return true
}

// readImplicit reads an optional [n] IMPLICIT OCTET STRING, leaving out nil
// when another element stands in its place.
func readImplicit(s *cryptobyte.String, n uint8, out *[]byte) bool {
	tag := cbasn1.Tag(n).ContextSpecific()
	if !s.PeekASN1Tag(tag) {
		return true
	}
	var v cryptobyte.String
	if !s.ReadASN1(&v, tag) {
		return false
	}
	*out = nonNil(v)
	return true
}

// readExplicit reads the field [n] EXPLICIT at the front of s and returns
// the tag's contents, which must be one element that the caller reads to the
// end. An optional field is absent when another element stands in its place;
// then encoding/asn1 still refused two things, and so does this: an element
// whose header ends the SEQUENCE ("explicit tag has no child"), and the
// field's tag in primitive form with no contents.
func readExplicit(s *cryptobyte.String, n uint8, optional bool) (w cryptobyte.String, present, ok bool) {
	tag := cbasn1.Tag(n).ContextSpecific().Constructed()
	if s.PeekASN1Tag(tag) || !optional {
		ok = s.ReadASN1(&w, tag) && len(w) != 0
		return w, ok, ok
	}
	if s.Empty() {
		return nil, false, true
	}
	h, good := readHeader(*s)
	if !good || h.hdrLen == len(*s) || h.class == asn1.ClassContextSpecific && h.tag == int(n) && h.length == 0 {
		return nil, false, false
	}
	return nil, false, true
}

// skipExtensions checks that what is left of a SEQUENCE after its known
// fields is whole elements: extensions, which are ignored.
func skipExtensions(s cryptobyte.String) bool {
	for len(s) != 0 {
		h, ok := readHeader(s)
		if !ok || h.hdrLen+h.length > len(s) {
			return false
		}
		s = s[h.hdrLen+h.length:]
	}
	return true
}

// countElements is the number of whole elements at the front of s.
func countElements(s cryptobyte.String) int {
	n := 0
	var e cryptobyte.String
	var tag cbasn1.Tag
	for s.ReadAnyASN1Element(&e, &tag) {
		n++
	}
	return n
}

// nonNil keeps a present but empty value apart from an absent one.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// derHeader is the identifier and length octets of one element.
type derHeader struct {
	class, tag     int
	compound       bool
	hdrLen, length int
}

// readHeader reads an element's identifier and length octets as
// encoding/asn1 reads them: high tag numbers in their shortest form, and a
// definite length in its shortest form. cryptobyte reads no high tag
// numbers, which extensions and parameters may use.
func readHeader(s []byte) (h derHeader, ok bool) {
	if len(s) == 0 {
		return h, false
	}
	h.class, h.compound, h.tag = int(s[0]>>6), s[0]&0x20 != 0, int(s[0]&0x1f)
	i := 1
	if h.tag == 0x1f {
		var tag int64
		for shifted := 0; ; shifted++ {
			if i == len(s) || shifted == 5 || shifted == 0 && s[i] == 0x80 {
				return h, false
			}
			c := s[i]
			i++
			tag = tag<<7 | int64(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if tag < 0x1f || tag > math.MaxInt32 {
			return h, false
		}
		h.tag = int(tag)
	}
	if i == len(s) {
		return h, false
	}
	l := s[i]
	i++
	if l < 0x80 {
		h.hdrLen, h.length = i, int(l)
		return h, true
	}
	n := int(l & 0x7f)
	if n == 0 || n > 4 || len(s)-i < n || s[i] == 0 {
		return h, false // indefinite (BER), too long, truncated or not shortest
	}
	for _, c := range s[i : i+n] {
		h.length = h.length<<8 | int(c)
	}
	if h.length < 0x80 || n == 4 && h.length >= 1<<31 {
		return h, false
	}
	h.hdrLen = i + n
	return h, true
}
