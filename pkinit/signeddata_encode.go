package pkinit

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"

	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// signedDataParts are the elements of a SignedData (RFC 5652 §5) that
// [SignData] has made, put together by encode once their sizes are known. The
// certificates are by far the largest part; they are copied once, from each
// certificate's Raw into the result.
type signedDataParts struct {
	contentType []byte // the eContentType OBJECT IDENTIFIER element
	content     []byte
	digestAlg   []byte // AlgorithmIdentifier element
	cert        *x509.Certificate
	chain       []*x509.Certificate
	version     int64  // the SignerInfo's: 3 with a subjectKeyIdentifier, else 1
	sid         []byte // SignerIdentifier element
	attrs       []byte // the signed SET OF Attribute element, re-tagged [0] IMPLICIT
	sigAlg      []byte // AlgorithmIdentifier element
	signature   []byte
}

// encode returns the DER ContentInfo holding the SignedData.
func (p *signedDataParts) encode() []byte {
	eci := len(p.contentType) + der.ExplicitSize(len(p.content))
	certs := len(p.cert.Raw)
	for _, c := range p.chain {
		certs += len(c.Raw)
	}
	attrs := p.attrs[2:] // the SET's contents: its length fits one octet
	si := 3 + len(p.sid) + len(p.digestAlg) + der.Size(len(attrs)) + len(p.sigAlg) + der.Size(len(p.signature))
	sd := 3 + der.Size(len(p.digestAlg)) + der.Size(eci) + der.Size(certs) + der.ExplicitSize(si)
	ci := len(oidSignedDataElement) + der.ExplicitSize(sd)

	b := make([]byte, 0, der.Size(ci))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, ci)
	b = append(b, oidSignedDataElement...)
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(sd))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, sd)
	b = der.AppendInt(b, 3) // eContentType is not id-data, RFC 5652 §5.1
	b = der.AppendElement(b, cbasn1.SET, p.digestAlg)
	b = der.AppendHeader(b, cbasn1.SEQUENCE, eci)
	b = append(b, p.contentType...)
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(len(p.content)))
	b = der.AppendElement(b, cbasn1.OCTET_STRING, p.content)
	b = der.AppendHeader(b, tagCtx0Cons, certs)
	b = append(b, p.cert.Raw...)
	for _, c := range p.chain {
		b = append(b, c.Raw...)
	}
	b = der.AppendHeader(b, cbasn1.SET, der.Size(si))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, si)
	b = der.AppendInt(b, p.version)
	b = append(b, p.sid...)
	b = append(b, p.digestAlg...)
	b = der.AppendElement(b, tagCtx0Cons, attrs)
	b = append(b, p.sigAlg...)
	return der.AppendElement(b, cbasn1.OCTET_STRING, p.signature)
}

var oidSignedDataElement = appendOID(nil, oidSignedData)

// signedAttributes returns the DER SET OF Attribute (tag 0x31) that is
// signed: contentType and messageDigest, in DER order (X.690 §11.6). Its
// length always fits one length octet, so the contents start at offset 2.
func signedAttributes(ct asn1.ObjectIdentifier, digest []byte) []byte {
	n1 := oidSize(oidAttrContentType) + der.Size(oidSize(ct))
	n2 := oidSize(oidAttrMessageDigest) + der.ExplicitSize(len(digest))
	e := make([]byte, 0, der.Size(n1)+der.Size(n2))
	e = der.AppendHeader(e, cbasn1.SEQUENCE, n1)
	e = appendOID(e, oidAttrContentType)
	e = der.AppendHeader(e, cbasn1.SET, oidSize(ct))
	e = appendOID(e, ct)
	a1 := len(e)
	e = der.AppendHeader(e, cbasn1.SEQUENCE, n2)
	e = appendOID(e, oidAttrMessageDigest)
	e = der.AppendHeader(e, cbasn1.SET, der.Size(len(digest)))
	e = der.AppendElement(e, cbasn1.OCTET_STRING, digest)
	first, second := e[:a1], e[a1:]
	if bytes.Compare(first, second) > 0 {
		first, second = second, first
	}
	out := der.AppendHeader(make([]byte, 0, der.Size(len(e))), cbasn1.SET, len(e))
	return append(append(out, first...), second...)
}

// signerElements encodes the small parts of a SignerInfo: the eContentType,
// the digest and signature algorithms, and the signer's identifier.
func (p *signedDataParts) signerElements(alg signingAlgorithms, ski bool) error {
	for _, oid := range []asn1.ObjectIdentifier{alg.content, alg.digest, alg.signature} {
		if oidSize(oid) == 0 {
			return malformed("SignedData", fmt.Errorf("invalid object identifier %v", oid))
		}
	}
	if p.cert.SerialNumber == nil {
		return malformed("SignedData", errors.New("signer certificate has no serial number"))
	}
	serial := integerContents(p.cert.SerialNumber)
	b := make([]byte, 0, 64+len(p.cert.RawIssuer)+len(serial)+len(p.cert.SubjectKeyId))
	b = appendOID(b, alg.content)
	n1 := len(b)
	b = appendAlgorithm(b, alg.digest, false)
	n2 := len(b)
	b = appendAlgorithm(b, alg.signature, alg.signatureNULL)
	n3 := len(b)
	p.version = 1
	if ski {
		p.version = 3
		b = der.AppendElement(b, tagCtx0Prim, p.cert.SubjectKeyId)
	} else {
		b = der.AppendHeader(b, cbasn1.SEQUENCE, len(p.cert.RawIssuer)+der.Size(len(serial)))
		b = append(b, p.cert.RawIssuer...)
		b = der.AppendElement(b, cbasn1.INTEGER, serial)
	}
	p.contentType, p.digestAlg, p.sigAlg, p.sid = b[:n1], b[n1:n2], b[n2:n3], b[n3:]
	return nil
}

// appendAlgorithm appends an AlgorithmIdentifier, with NULL parameters
// when null is set.
func appendAlgorithm(b []byte, oid asn1.ObjectIdentifier, null bool) []byte {
	n := oidSize(oid)
	if null {
		n += 2
	}
	b = appendOID(der.AppendHeader(b, cbasn1.SEQUENCE, n), oid)
	if null {
		b = append(b, byte(cbasn1.NULL), 0)
	}
	return b
}

// oidSize is the size of the OBJECT IDENTIFIER element of oid, 0 for a
// value X.690 §8.19 cannot encode.
func oidSize(oid asn1.ObjectIdentifier) int {
	if len(oid) < 2 || oid[0] > 2 || oid[0] < 2 && oid[1] >= 40 || slices.Min(oid) < 0 {
		return 0
	}
	n := base128Size(oid[0]*40 + oid[1])
	for _, v := range oid[2:] {
		n += base128Size(v)
	}
	return der.Size(n)
}

func base128Size(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// appendOID appends the OBJECT IDENTIFIER element of oid, which oidSize
// has found valid.
func appendOID(b []byte, oid asn1.ObjectIdentifier) []byte {
	b = der.AppendHeader(b, cbasn1.OBJECT_IDENTIFIER, oidSize(oid)-2)
	b = appendBase128(b, oid[0]*40+oid[1])
	for _, v := range oid[2:] {
		b = appendBase128(b, v)
	}
	return b
}

func appendBase128(b []byte, v int) []byte {
	for i := base128Size(v) - 1; i > 0; i-- {
		b = append(b, byte(v>>(7*i))|0x80)
	}
	return append(b, byte(v&0x7f))
}

// integerContents is the two's complement of n in the fewest octets, the
// contents of its INTEGER (X.690 §8.3).
func integerContents(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 with every bit inverted is n in two's complement.
	b := new(big.Int).Sub(new(big.Int).Neg(n), big.NewInt(1)).Bytes()
	for i := range b {
		b[i] ^= 0xff
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
