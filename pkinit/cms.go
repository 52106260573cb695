package pkinit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	tagCtx0Cons = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1Cons = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagCtx0Prim = cbasn1.Tag(0).ContextSpecific()
)

// SignOptions control [SignData].
type SignOptions struct {
	// Hash is the digest; SHA-256 when zero. Use SHA-1 only for a peer that
	// requires it.
	Hash crypto.Hash
	// Chain is embedded after the signer's certificate (intermediate CAs).
	Chain []*x509.Certificate
	// SubjectKeyID identifies the signer by subject key identifier instead of
	// issuer and serial number.
	SubjectKeyID bool
	// Rand is handed to the signer.
	Rand io.Reader
}

// SignData returns a DER ContentInfo holding a SignedData over content, with
// the signed attributes contentType and messageDigest and the signer's
// certificate embedded (RFC 5652 §5, RFC 4556 §3.2.1). signer is any
// crypto.Signer: an RSA key (PKCS #1 v1.5) or an ECDSA key, on a card or not.
func SignData(content []byte, ct ContentType, signer crypto.Signer, cert *x509.Certificate, opts SignOptions) ([]byte, error) {
	oid := ct.oid()
	if oid == nil {
		return nil, fmt.Errorf("%w: content type %d", ErrUnexpectedContentType, int(ct))
	}
	h := opts.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	digestOID, err := digestOIDOf(h)
	if err != nil {
		return nil, err
	}
	var sigAlg asn1.ObjectIdentifier
	var sigAlgNULL bool
	switch signer.Public().(type) {
	case *rsa.PublicKey:
		sigAlg, sigAlgNULL = oidRSAEncryption, true
	case *ecdsa.PublicKey:
		sigAlg = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: oidECDSAWithSHA1, crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512}[h]
	default:
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, signer.Public())
	}

	md := h.New()
	md.Write(content)
	attrs := signedAttributes(oid, md.Sum(nil))
	ah := h.New()
	ah.Write(attrs)
	sig, err := signer.Sign(opts.Rand, ah.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("pkinit: signing: %w", err)
	}

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3) // eContentType is not id-data, RFC 5652 §5.1
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					addAlgorithm(b, digestOID, false)
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oid)
					b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(content)
					})
				})
				b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
					b.AddBytes(cert.Raw)
					for _, c := range opts.Chain {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						if opts.SubjectKeyID {
							b.AddASN1Int64(3)
							b.AddASN1(tagCtx0Prim, func(b *cryptobyte.Builder) { b.AddBytes(cert.SubjectKeyId) })
						} else {
							b.AddASN1Int64(1)
							addIssuerAndSerial(b, cert)
						}
						addAlgorithm(b, digestOID, false)
						b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
							b.AddBytes(attrs[2:]) // the SET's contents, re-tagged [0] IMPLICIT
						})
						addAlgorithm(b, sigAlg, sigAlgNULL)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	if opts.SubjectKeyID && len(cert.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("%w: signer certificate has no subject key identifier", ErrUnknownSigner)
	}
	return b.Bytes()
}

// signedAttributes returns the DER SET OF Attribute (tag 0x31) that is signed:
// contentType and messageDigest, in DER order. Its length always fits one
// length octet, so the contents start at offset 2.
func signedAttributes(ct asn1.ObjectIdentifier, digest []byte) []byte {
	var a1, a2 cryptobyte.Builder
	a1.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAttrContentType)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(ct) })
	})
	a2.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidAttrMessageDigest)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	})
	e := [][]byte{a1.BytesOrPanic(), a2.BytesOrPanic()}
	slices.SortFunc(e, bytes.Compare)
	var s cryptobyte.Builder
	s.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		b.AddBytes(e[0])
		b.AddBytes(e[1])
	})
	return s.BytesOrPanic()
}

func addAlgorithm(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

func addIssuerAndSerial(b *cryptobyte.Builder, cert *x509.Certificate) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(cert.RawIssuer)
		b.AddASN1BigInt(cert.SerialNumber)
	})
}

func digestOIDOf(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA1:
		return oidSHA1, nil
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupportedDigest, h)
}

func hashOfDigestOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// VerifyOptions control [VerifySignedData].
type VerifyOptions struct {
	// ContentType is the eContentType the caller expects; zero accepts any.
	ContentType ContentType
	// Certificates are candidates for the signer besides those embedded
	// (the KDC's own certificate, known out of band).
	Certificates []*x509.Certificate
	// AllowSHA1 accepts SHA-1 digests (old Windows clients). Off by default.
	AllowSHA1 bool
}

// SignedContent is a verified SignedData. The signature is checked with the
// signer certificate's key; whether that certificate is trusted is the
// caller's business (build the path from Signer through Certificates).
type SignedContent struct {
	ContentType  ContentType
	Content      []byte // the eContent exactly as signed
	Signer       *x509.Certificate
	Certificates []*x509.Certificate // all certificates embedded, signer included
	Hash         crypto.Hash
}

type signerInfo struct {
	issuer      []byte // raw Name
	serial      *big.Int
	ski         []byte
	digestAlg   asn1.ObjectIdentifier
	signedAttrs []byte // the [0] element as received
	sigAlg      asn1.ObjectIdentifier
	signature   []byte
}

type signedData struct {
	eContentType asn1.ObjectIdentifier
	eContent     []byte
	// eContentInner is set for RFC 2315-style content (not an OCTET STRING):
	// the contents octets, which PKCS #7 v1.5 digests.
	eContentInner []byte
	certs         []*x509.Certificate
	signers       []signerInfo
}

func readAlgorithm(s *cryptobyte.String, oid *asn1.ObjectIdentifier) bool {
	var alg cryptobyte.String
	return s.ReadASN1(&alg, cbasn1.SEQUENCE) && alg.ReadASN1ObjectIdentifier(oid)
}

// parseSignedData accepts a ContentInfo holding SignedData, or a bare
// SignedData (the RFC 4556 encKeyPack inner form).
func parseSignedData(der []byte) (*signedData, error) {
	in := cryptobyte.String(der)
	var outer cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("SignedData", errTrailingOr(in))
	}
	var sd cryptobyte.String
	if outer.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var ct asn1.ObjectIdentifier
		var content cryptobyte.String
		if !outer.ReadASN1ObjectIdentifier(&ct) || !outer.ReadASN1(&content, tagCtx0Cons) || !outer.Empty() {
			return nil, malformed("ContentInfo", nil)
		}
		if !ct.Equal(oidSignedData) {
			return nil, fmt.Errorf("%w: ContentInfo is %v, not SignedData", ErrMalformed, ct)
		}
		if !content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
			return nil, malformed("SignedData", nil)
		}
	} else {
		sd = outer
	}
	var out signedData
	var version int64
	var digestAlgs, eci cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&eci, cbasn1.SEQUENCE) {
		return nil, malformed("SignedData", nil)
	}
	if !eci.ReadASN1ObjectIdentifier(&out.eContentType) {
		return nil, malformed("EncapsulatedContentInfo", nil)
	}
	if eci.Empty() {
		return nil, malformed("EncapsulatedContentInfo", errors.New("detached content"))
	}
	var ec cryptobyte.String
	if !eci.ReadASN1(&ec, tagCtx0Cons) || !eci.Empty() {
		return nil, malformed("EncapsulatedContentInfo", nil)
	}
	if ec.PeekASN1Tag(cbasn1.OCTET_STRING) {
		var c cryptobyte.String
		if !ec.ReadASN1(&c, cbasn1.OCTET_STRING) || !ec.Empty() {
			return nil, malformed("eContent", nil)
		}
		out.eContent = c
	} else {
		var elem, inner cryptobyte.String
		var tag cbasn1.Tag
		if !ec.ReadAnyASN1Element(&elem, &tag) || !ec.Empty() {
			return nil, malformed("eContent", nil)
		}
		inner = elem
		if !inner.ReadAnyASN1(&inner, &tag) {
			return nil, malformed("eContent", nil)
		}
		out.eContent, out.eContentInner = elem, inner
	}
	if sd.PeekASN1Tag(tagCtx0Cons) {
		var certs cryptobyte.String
		if !sd.ReadASN1(&certs, tagCtx0Cons) {
			return nil, malformed("SignedData certificates", nil)
		}
		for !certs.Empty() {
			var c cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&c, &tag) {
				return nil, malformed("SignedData certificates", nil)
			}
			if tag != cbasn1.SEQUENCE {
				continue // attribute or other certificate formats
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, malformed("embedded certificate", err)
			}
			out.certs = append(out.certs, cert)
		}
	}
	if sd.PeekASN1Tag(tagCtx1Cons) {
		var crls cryptobyte.String
		if !sd.ReadASN1(&crls, tagCtx1Cons) {
			return nil, malformed("SignedData crls", nil)
		}
	}
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("SignedData signerInfos", nil)
	}
	for !sis.Empty() {
		si, err := parseSignerInfo(&sis)
		if err != nil {
			return nil, err
		}
		out.signers = append(out.signers, si)
	}
	return &out, nil
}

func errTrailingOr(rest cryptobyte.String) error {
	if len(rest) != 0 {
		return errTrailing
	}
	return nil
}

func parseSignerInfo(s *cryptobyte.String) (signerInfo, error) {
	var si signerInfo
	var seq cryptobyte.String
	var version int64
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Integer(&version) {
		return si, malformed("SignerInfo", nil)
	}
	switch {
	case seq.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		si.serial = new(big.Int)
		if !seq.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.serial) || !ias.Empty() {
			return si, malformed("IssuerAndSerialNumber", nil)
		}
		si.issuer = issuer
	case seq.PeekASN1Tag(tagCtx0Prim):
		var ski cryptobyte.String
		if !seq.ReadASN1(&ski, tagCtx0Prim) {
			return si, malformed("SubjectKeyIdentifier", nil)
		}
		si.ski = ski
	default:
		return si, malformed("SignerIdentifier", nil)
	}
	if !readAlgorithm(&seq, &si.digestAlg) {
		return si, malformed("SignerInfo digestAlgorithm", nil)
	}
	if seq.PeekASN1Tag(tagCtx0Cons) {
		var attrs cryptobyte.String
		if !seq.ReadASN1Element(&attrs, tagCtx0Cons) {
			return si, malformed("SignerInfo signedAttrs", nil)
		}
		si.signedAttrs = attrs
	}
	var sig cryptobyte.String
	if !readAlgorithm(&seq, &si.sigAlg) || !seq.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return si, malformed("SignerInfo signature", nil)
	}
	si.signature = sig
	if seq.PeekASN1Tag(tagCtx1Cons) {
		var unsigned cryptobyte.String
		seq.ReadASN1(&unsigned, tagCtx1Cons)
	}
	if !seq.Empty() {
		return si, malformed("SignerInfo", errTrailing)
	}
	return si, nil
}

// signedAttrValues returns the single values of contentType and
// messageDigest, RFC 5652 §5.3.
func signedAttrValues(attrsElem []byte) (ct asn1.ObjectIdentifier, digest []byte, err error) {
	attrs := cryptobyte.String(attrsElem)
	if !attrs.ReadASN1(&attrs, tagCtx0Cons) {
		return nil, nil, malformed("signedAttrs", nil)
	}
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&typ) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, nil, malformed("signed attribute", nil)
		}
		switch {
		case typ.Equal(oidAttrContentType):
			if ct != nil || !values.ReadASN1ObjectIdentifier(&ct) || !values.Empty() {
				return nil, nil, malformed("contentType attribute", nil)
			}
		case typ.Equal(oidAttrMessageDigest):
			var d cryptobyte.String
			if digest != nil || !values.ReadASN1(&d, cbasn1.OCTET_STRING) || !values.Empty() {
				return nil, nil, malformed("messageDigest attribute", nil)
			}
			digest = d
		}
	}
	if ct == nil || digest == nil {
		return nil, nil, malformed("signedAttrs", errors.New("contentType or messageDigest missing"))
	}
	return ct, digest, nil
}

// VerifySignedData checks a SignedData (a ContentInfo, or the bare SignedData
// of an RFC 4556 encKeyPack) over the content bytes it carries. PKINIT allows
// exactly one signer (RFC 4556 §3.2.1), found by issuer and serial number or
// by subject key identifier among the embedded certificates and
// opts.Certificates.
func VerifySignedData(der []byte, opts VerifyOptions) (*SignedContent, error) {
	sd, err := parseSignedData(der)
	if err != nil {
		return nil, err
	}
	if len(sd.signers) != 1 {
		return nil, malformed("SignedData", fmt.Errorf("%d signers, want exactly one", len(sd.signers)))
	}
	ct := contentTypeOf(sd.eContentType)
	if opts.ContentType != 0 && ct != opts.ContentType {
		return nil, fmt.Errorf("%w: got %v, want %v", ErrUnexpectedContentType, sd.eContentType, opts.ContentType)
	}
	si := sd.signers[0]
	signer := findSigner(si, sd.certs, opts.Certificates)
	if signer == nil {
		return nil, ErrUnknownSigner
	}
	h := hashOfDigestOID(si.digestAlg)
	if h == 0 || (h == crypto.SHA1 && !opts.AllowSHA1) {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedDigest, si.digestAlg)
	}
	if err := checkSignatureAlgorithm(si.sigAlg, h, signer.PublicKey); err != nil {
		return nil, err
	}
	signedBytes := sd.eContent
	if si.signedAttrs != nil {
		attrCT, digest, err := signedAttrValues(si.signedAttrs)
		if err != nil {
			return nil, err
		}
		if !attrCT.Equal(sd.eContentType) {
			return nil, fmt.Errorf("%w: contentType attribute %v differs from eContentType %v", ErrBadSignature, attrCT, sd.eContentType)
		}
		if !digestMatches(h, digest, sd.eContent, sd.eContentInner) {
			return nil, fmt.Errorf("%w: message digest", ErrBadSignature)
		}
		// The signature covers the attributes DER-encoded as a SET, RFC 5652 §5.4.
		signedBytes = append([]byte{0x31}, si.signedAttrs[1:]...)
	}
	if err := verifySignature(signer.PublicKey, h, signedBytes, si.signature); err != nil {
		return nil, err
	}
	return &SignedContent{ContentType: ct, Content: sd.eContent, Signer: signer, Certificates: sd.certs, Hash: h}, nil
}

func digestMatches(h crypto.Hash, want, content, inner []byte) bool {
	d := h.New()
	d.Write(content)
	if bytes.Equal(d.Sum(nil), want) {
		return true
	}
	if inner == nil {
		return false
	}
	// PKCS #7 v1.5 (RFC 2315 §9.3) digests only the contents octets.
	d.Reset()
	d.Write(inner)
	return bytes.Equal(d.Sum(nil), want)
}

func findSigner(si signerInfo, embedded, extra []*x509.Certificate) *x509.Certificate {
	for _, list := range [][]*x509.Certificate{embedded, extra} {
		for _, c := range list {
			if si.ski != nil {
				if len(c.SubjectKeyId) != 0 && bytes.Equal(c.SubjectKeyId, si.ski) {
					return c
				}
				continue
			}
			if bytes.Equal(c.RawIssuer, si.issuer) && c.SerialNumber.Cmp(si.serial) == 0 {
				return c
			}
		}
	}
	return nil
}

func checkSignatureAlgorithm(alg asn1.ObjectIdentifier, h crypto.Hash, pub any) error {
	type want struct {
		rsa  bool
		hash crypto.Hash
	}
	var w want
	switch {
	case alg.Equal(oidRSAEncryption):
		w = want{true, h}
	case alg.Equal(oidSHA1WithRSA):
		w = want{true, crypto.SHA1}
	case alg.Equal(oidSHA256WithRSA):
		w = want{true, crypto.SHA256}
	case alg.Equal(oidSHA384WithRSA):
		w = want{true, crypto.SHA384}
	case alg.Equal(oidSHA512WithRSA):
		w = want{true, crypto.SHA512}
	case alg.Equal(oidECDSAWithSHA1):
		w = want{false, crypto.SHA1}
	case alg.Equal(oidECDSAWithSHA256):
		w = want{false, crypto.SHA256}
	case alg.Equal(oidECDSAWithSHA384):
		w = want{false, crypto.SHA384}
	case alg.Equal(oidECDSAWithSHA512):
		w = want{false, crypto.SHA512}
	default:
		return fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedDigest, alg)
	}
	if w.hash != h {
		return fmt.Errorf("%w: signature algorithm %v with digest %v", ErrUnsupportedDigest, alg, h)
	}
	_, isRSA := pub.(*rsa.PublicKey)
	_, isEC := pub.(*ecdsa.PublicKey)
	if w.rsa && isEC {
		// MIT krb5 1.20 labels its ECDSA signatures sha256WithRSAEncryption;
		// OpenSSL, and so MIT's KDC, verify by the key's type. The signature
		// is still checked as ECDSA over the named digest.
		return nil
	}
	if (w.rsa && !isRSA) || (!w.rsa && !isEC) {
		return fmt.Errorf("%w: signature algorithm %v does not fit a %T key", ErrBadSignature, alg, pub)
	}
	return nil
}

func verifySignature(pub any, h crypto.Hash, signed, sig []byte) error {
	d := h.New()
	d.Write(signed)
	sum := d.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, h, sum, sig); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, sum, sig) {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}
