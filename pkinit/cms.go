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

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	tagCtx0Cons = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1Cons = cbasn1.Tag(1).ContextSpecific().Constructed()
	tagCtx2Cons = cbasn1.Tag(2).ContextSpecific().Constructed()
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
	// issuer and serial number, in DER's primitive [0] (80 14 …). Heimdal's
	// hx509 (Heimdal's and Samba's KDC and kinit) cannot decode that form: its
	// CMS module tags [0] EXPLICIT. Leave it off for such peers.
	SubjectKeyID bool
	// Rand is handed to the signer.
	Rand io.Reader
}

// SignData returns a DER ContentInfo holding a SignedData over content, with
// the signed attributes contentType and messageDigest and the signer's
// certificate embedded (RFC 5652 §5, RFC 4556 §3.2.1). signer is any
// crypto.Signer: an RSA key (PKCS #1 v1.5) or an ECDSA key, on a card or not.
func SignData(content []byte, ct ContentType, signer crypto.Signer, cert *x509.Certificate, opts SignOptions) ([]byte, error) {
	alg, err := signingAlgorithmsFor(ct, signer, opts.Hash)
	if err != nil {
		return nil, err
	}
	if opts.SubjectKeyID && len(cert.SubjectKeyId) == 0 {
		return nil, fmt.Errorf("%w: signer certificate has no subject key identifier", ErrUnknownSigner)
	}

	md := alg.hash.New()
	md.Write(content)
	attrs := signedAttributes(alg.content, md.Sum(nil))
	ah := alg.hash.New()
	ah.Write(attrs)
	sig, err := signer.Sign(opts.Rand, ah.Sum(nil), alg.hash)
	if err != nil {
		return nil, fmt.Errorf("pkinit: signing: %w", err)
	}

	p := signedDataParts{content: content, cert: cert, chain: opts.Chain, attrs: attrs, signature: sig}
	if err := p.signerElements(alg, opts.SubjectKeyID); err != nil {
		return nil, err
	}
	return p.encode(), nil
}

// signingAlgorithms are what a SignedData by one signer names: the
// content type's OID, the hash (SHA-256 unless asked otherwise) and its
// OID, and the signature algorithm (rsaEncryption with its NULL
// parameters, or ecdsa-with-SHA*).
type signingAlgorithms struct {
	content, digest, signature asn1.ObjectIdentifier
	signatureNULL              bool
	hash                       crypto.Hash
}

// signingAlgorithmsFor chooses the algorithms SignData writes for ct, the
// signer's key and hash h (0: SHA-256).
func signingAlgorithmsFor(ct ContentType, signer crypto.Signer, h crypto.Hash) (signingAlgorithms, error) {
	a := signingAlgorithms{content: ct.oid(), hash: h}
	if a.content == nil {
		return a, fmt.Errorf("%w: content type %d", ErrUnexpectedContentType, int(ct))
	}
	if a.hash == 0 {
		a.hash = crypto.SHA256
	}
	var err error
	if a.digest, err = digestOIDOf(a.hash); err != nil {
		return a, err
	}
	switch signer.Public().(type) {
	case *rsa.PublicKey:
		a.signature, a.signatureNULL = oidRSAEncryption, true
	case *ecdsa.PublicKey:
		a.signature = ecdsaSignatureOID(a.hash)
	default:
		return a, fmt.Errorf("%w: %T", ErrUnsupportedKey, signer.Public())
	}
	return a, nil
}

// ecdsaSignatureOID is ecdsa-with-SHA*, RFC 5758 §3.2 (RFC 3279 §2.2.3 for
// SHA-1), for a hash digestOIDOf accepts.
func ecdsaSignatureOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA1:
		return oidECDSAWithSHA1
	case crypto.SHA256:
		return oidECDSAWithSHA256
	case crypto.SHA384:
		return oidECDSAWithSHA384
	}
	return oidECDSAWithSHA512
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
	// AllowSHA1 accepts a SHA-1 digest or signature algorithm (old Windows
	// clients; a Heimdal or Samba KDC answering a client that sent no
	// supportedCMSTypes). Off by default: such a SignedData is refused with
	// an error that matches [ErrSHA1Signature].
	AllowSHA1 bool
	// ParsedCertificate, when set, is asked for each embedded certificate,
	// by its DER as received, before that is parsed: a certificate it
	// returns whose Raw equals der is used as is (a KDC's client
	// certificates verified lately). The signature is checked over the
	// bytes received all the same.
	ParsedCertificate func(der []byte) *x509.Certificate
}

// SignedContent is a verified SignedData. The signature is checked with the
// signer certificate's key; whether that certificate is trusted is the
// caller's business (build the path from Signer through Certificates).
type SignedContent struct {
	ContentType  ContentType
	Content      []byte // the eContent exactly as signed
	Signer       *x509.Certificate
	Certificates []*x509.Certificate // all certificates embedded, signer included
	Hash         crypto.Hash         // the SignerInfo's digestAlgorithm
}

// cmsIdentifier is a SignerIdentifier (RFC 5652 §5.3) or a
// RecipientIdentifier (§6.2.1): an issuer and serial number, or a subject
// key identifier.
type cmsIdentifier struct {
	issuer []byte // raw Name
	serial *big.Int
	ski    []byte
}

func (id cmsIdentifier) matches(c *x509.Certificate) bool {
	if id.ski != nil {
		return len(c.SubjectKeyId) != 0 && bytes.Equal(c.SubjectKeyId, id.ski)
	}
	return bytes.Equal(c.RawIssuer, id.issuer) && c.SerialNumber.Cmp(id.serial) == 0
}

// readIdentifier reads a SignerIdentifier or RecipientIdentifier. The
// subjectKeyIdentifier [0] comes primitive (80 14 …, DER) or constructed
// around an OCTET STRING (a0 16 04 14 …, BER, as Heimdal's hx509 writes it).
func readIdentifier(s *berString, what string) (cmsIdentifier, error) {
	var id cmsIdentifier
	switch {
	case s.peek(cbasn1.SEQUENCE):
		var ias, issuer berString
		id.serial = new(big.Int)
		if !s.read(&ias, cbasn1.SEQUENCE) || !ias.readElement(&issuer, cbasn1.SEQUENCE) ||
			!ias.readInteger(id.serial) || !ias.empty() {
			return id, malformed("IssuerAndSerialNumber", nil)
		}
		id.issuer = issuer
	case s.peek(tagCtx0Prim), s.peek(tagCtx0Cons):
		if !s.readOctetString(&id.ski, tagCtx0Prim) {
			return id, malformed("SubjectKeyIdentifier", nil)
		}
	default:
		return id, malformed(what, nil)
	}
	return id, nil
}

type signerInfo struct {
	sid         cmsIdentifier
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

// parseSignedData accepts a ContentInfo holding SignedData, or a bare
// SignedData (the RFC 4556 encKeyPack inner form), in BER. parsed is
// [VerifyOptions.ParsedCertificate].
func parseSignedData(der []byte, parsed func([]byte) *x509.Certificate) (*signedData, error) {
	sd, err := contentOf(der, oidSignedData, "SignedData", true)
	if err != nil {
		return nil, err
	}
	var out signedData
	var version int64
	var digestAlgs, eci berString
	if !sd.readInteger(&version) || !sd.read(&digestAlgs, cbasn1.SET) || !sd.read(&eci, cbasn1.SEQUENCE) {
		return nil, malformed("SignedData", nil)
	}
	if err := out.readEncapsulated(eci); err != nil {
		return nil, err
	}
	if err := out.readCertificates(&sd, parsed); err != nil {
		return nil, err
	}
	if sd.peek(tagCtx1Cons) && !sd.skip(tagCtx1Cons) {
		return nil, malformed("SignedData crls", nil)
	}
	var sis berString
	if !sd.read(&sis, cbasn1.SET) || !sd.empty() {
		return nil, malformed("SignedData signerInfos", errTrailingOr(sd))
	}
	for !sis.empty() {
		si, err := parseSignerInfo(&sis)
		if err != nil {
			return nil, err
		}
		out.signers = append(out.signers, si)
	}
	return &out, nil
}

// contentOf returns the content of a ContentInfo of type want (RFC 5652 §3),
// or, when bare is true, der itself if it is not a ContentInfo.
func contentOf(der []byte, want asn1.ObjectIdentifier, what string, bare bool) (berString, error) {
	in := berString(der)
	var outer berString
	if !in.read(&outer, cbasn1.SEQUENCE) || !in.empty() {
		return nil, malformed(what, errTrailingOr(in))
	}
	if bare && !outer.peek(cbasn1.OBJECT_IDENTIFIER) {
		return outer, nil
	}
	var ct asn1.ObjectIdentifier
	var content, inner berString
	if !outer.readOID(&ct) || !outer.read(&content, tagCtx0Cons) || !outer.empty() {
		return nil, malformed("ContentInfo", nil)
	}
	if !ct.Equal(want) {
		return nil, fmt.Errorf("%w: ContentInfo is %v, not %s", ErrMalformed, ct, what)
	}
	if !content.read(&inner, cbasn1.SEQUENCE) || !content.empty() {
		return nil, malformed(what, nil)
	}
	return inner, nil
}

// readEncapsulated reads the EncapsulatedContentInfo, RFC 5652 §5.2: the
// eContent OCTET STRING in either form, or RFC 2315 content of any type.
func (out *signedData) readEncapsulated(eci berString) error {
	if !eci.readOID(&out.eContentType) {
		return malformed("EncapsulatedContentInfo", nil)
	}
	if eci.empty() {
		return malformed("EncapsulatedContentInfo", errors.New("detached content"))
	}
	var ec berString
	if !eci.read(&ec, tagCtx0Cons) || !eci.empty() {
		return malformed("EncapsulatedContentInfo", nil)
	}
	if ec.peek(cbasn1.OCTET_STRING) || ec.peek(cbasn1.OCTET_STRING.Constructed()) {
		if !ec.readOctetString(&out.eContent, cbasn1.OCTET_STRING) || !ec.empty() {
			return malformed("eContent", nil)
		}
		return nil
	}
	var elem, inner berString
	var tag cbasn1.Tag
	if !ec.readAny(&elem, &inner, &tag) || !ec.empty() {
		return malformed("eContent", nil)
	}
	out.eContent, out.eContentInner = elem, inner
	return nil
}

// readCertificates reads the optional CertificateSet, in any order; other
// CertificateChoices than a Certificate are skipped. A certificate parsed
// returns for the same DER is taken instead of parsing it again.
func (out *signedData) readCertificates(sd *berString, parsed func([]byte) *x509.Certificate) error {
	if !sd.peek(tagCtx0Cons) {
		return nil
	}
	var certs berString
	if !sd.read(&certs, tagCtx0Cons) {
		return malformed("SignedData certificates", nil)
	}
	for !certs.empty() {
		var c berString
		var tag cbasn1.Tag
		if !certs.readAny(&c, nil, &tag) {
			return malformed("SignedData certificates", nil)
		}
		if tag != cbasn1.SEQUENCE {
			continue // attribute or other certificate formats
		}
		if parsed != nil {
			if cert := parsed(c); cert != nil && bytes.Equal(cert.Raw, c) {
				out.certs = append(out.certs, cert)
				continue
			}
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return malformed("embedded certificate", err)
		}
		out.certs = append(out.certs, cert)
	}
	return nil
}

func errTrailingOr(rest []byte) error {
	if len(rest) != 0 {
		return errTrailing
	}
	return nil
}

// parseSignerInfo reads one SignerInfo, RFC 5652 §5.3. The version is not
// checked: hx509 writes 1 with a subjectKeyIdentifier.
func parseSignerInfo(s *berString) (signerInfo, error) {
	var si signerInfo
	var seq berString
	var version int64
	if !s.read(&seq, cbasn1.SEQUENCE) || !seq.readInteger(&version) {
		return si, malformed("SignerInfo", nil)
	}
	var err error
	if si.sid, err = readIdentifier(&seq, "SignerIdentifier"); err != nil {
		return si, err
	}
	if !seq.readAlgorithm(&si.digestAlg, nil) {
		return si, malformed("SignerInfo digestAlgorithm", nil)
	}
	if seq.peek(tagCtx0Cons) {
		var attrs berString
		if !seq.readElement(&attrs, tagCtx0Cons) {
			return si, malformed("SignerInfo signedAttrs", nil)
		}
		if !isDER(attrs, tagCtx0Cons) {
			return si, malformed("SignerInfo signedAttrs", errors.New("not DER"))
		}
		si.signedAttrs = attrs
	}
	if !seq.readAlgorithm(&si.sigAlg, nil) || !seq.readOctetString(&si.signature, cbasn1.OCTET_STRING) {
		return si, malformed("SignerInfo signature", nil)
	}
	if seq.peek(tagCtx1Cons) && !seq.skip(tagCtx1Cons) {
		return si, malformed("SignerInfo unsignedAttrs", nil)
	}
	if !seq.empty() {
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
// opts.Certificates. The encoding may be BER (RFC 5652 §1); the signature is
// checked over the bytes received.
func VerifySignedData(der []byte, opts VerifyOptions) (*SignedContent, error) {
	sd, err := parseSignedData(der, opts.ParsedCertificate)
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
	signer := findSigner(si.sid, sd.certs, opts.Certificates)
	if signer == nil {
		return nil, ErrUnknownSigner
	}
	h, sigHash, err := signatureHashes(si, signer.PublicKey, opts.AllowSHA1)
	if err != nil {
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
	if err := verifySignature(signer.PublicKey, sigHash, signedBytes, si.signature); err != nil {
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

func findSigner(sid cmsIdentifier, embedded, extra []*x509.Certificate) *x509.Certificate {
	for _, list := range [][]*x509.Certificate{embedded, extra} {
		for _, c := range list {
			if sid.matches(c) {
				return c
			}
		}
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
