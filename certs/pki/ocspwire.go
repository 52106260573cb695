package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/sclogon/sclogon/certs/internal/ocspder"
)

// The DER mirrors of RFC 6960 §4.1.1 and §4.2.1. x/crypto/ocsp builds
// responses without responseExtensions (so no nonce) and with its own
// clock; the responder needs both, so it encodes here.

type requestDER struct {
	ReqCert    ocspder.CertID
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

type tbsRequestDER struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []requestDER
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type ocspRequestDER struct {
	TBSRequest tbsRequestDER
	Signature  asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type revokedInfoDER struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional,default:-1"`
}

type singleResponseDER struct {
	CertID     ocspder.CertID
	CertStatus asn1.RawValue
	ThisUpdate time.Time `asn1:"generalized"`
	NextUpdate time.Time `asn1:"generalized,explicit,tag:0,optional"`
}

var (
	// OIDOCSPNonce is id-pkix-ocsp-nonce, RFC 6960 §4.4.1.
	OIDOCSPNonce = ocspder.OIDNonce

	hashOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1:   {1, 3, 14, 3, 2, 26},
		crypto.SHA256: {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	}
)

// CertID is the RFC 6960 §4.1.1 certificate identifier.
type CertID struct {
	Hash           crypto.Hash
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	Serial         *big.Int
}

// NewCertID computes the CertID of serial under issuer with hash h (SHA-1
// when zero, as RFC 5019 clients send).
func NewCertID(issuer *x509.Certificate, serial *big.Int, h crypto.Hash) (CertID, error) {
	if h == 0 {
		h = crypto.SHA1
	}
	if _, ok := hashOIDs[h]; !ok || !h.Available() {
		return CertID{}, fmt.Errorf("pki: unsupported CertID hash %v", h)
	}
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return CertID{}, fmt.Errorf("pki: issuer public key: %w", err)
	}
	nh := h.New()
	nh.Write(issuer.RawSubject)
	kh := h.New()
	kh.Write(spki.Key.RightAlign())
	return CertID{Hash: h, IssuerNameHash: nh.Sum(nil), IssuerKeyHash: kh.Sum(nil), Serial: serial}, nil
}

func (id CertID) der() ocspder.CertID {
	return ocspder.CertID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: hashOIDs[id.Hash], Parameters: asn1.NullRawValue},
		IssuerNameHash: id.IssuerNameHash,
		IssuerKeyHash:  id.IssuerKeyHash,
		SerialNumber:   id.Serial,
	}
}

// Request is a parsed OCSP request: the certificates asked about and the
// nonce extension's value, echoed verbatim in the response.
type Request struct {
	CertIDs []CertID
	Nonce   []byte
}

// ParseRequest parses a DER OCSPRequest (RFC 6960 §4.1.1). Signed requests
// are accepted and their signature ignored, as most responders do.
func ParseRequest(der []byte) (Request, error) {
	var r ocspRequestDER
	rest, err := asn1.Unmarshal(der, &r)
	if err != nil {
		return Request{}, fmt.Errorf("pki: malformed OCSP request: %w", err)
	}
	if len(rest) > 0 {
		return Request{}, errors.New("pki: trailing data after OCSP request")
	}
	if len(r.TBSRequest.RequestList) == 0 {
		return Request{}, errors.New("pki: OCSP request asks about no certificate")
	}
	var out Request
	for _, q := range r.TBSRequest.RequestList {
		var h crypto.Hash
		for k, oid := range hashOIDs {
			if q.ReqCert.HashAlgorithm.Algorithm.Equal(oid) {
				h = k
			}
		}
		if h == 0 {
			return Request{}, fmt.Errorf("pki: OCSP request uses unsupported hash %v", q.ReqCert.HashAlgorithm.Algorithm)
		}
		if q.ReqCert.SerialNumber == nil {
			return Request{}, errors.New("pki: OCSP request without a serial number")
		}
		out.CertIDs = append(out.CertIDs, CertID{h, q.ReqCert.IssuerNameHash, q.ReqCert.IssuerKeyHash, q.ReqCert.SerialNumber})
	}
	for _, e := range r.TBSRequest.Extensions {
		if e.Id.Equal(OIDOCSPNonce) {
			out.Nonce = e.Value
		}
	}
	return out, nil
}

// SingleResponse is the status of one certificate in a response.
type SingleResponse struct {
	CertID CertID
	// Status is ocsp.Good, ocsp.Revoked or ocsp.Unknown.
	Status     int
	RevokedAt  time.Time
	Reason     Reason
	ThisUpdate time.Time
	// NextUpdate zero leaves the field out.
	NextUpdate time.Time
}

// ResponseTemplate is what [SignResponse] encodes.
type ResponseTemplate struct {
	Responses  []SingleResponse
	ProducedAt time.Time
	// Nonce is the request's nonce extension value, echoed in
	// responseExtensions; nil leaves it out.
	Nonce []byte
	// Certificates are embedded in the response, the signer first.
	Certificates []*x509.Certificate
	// ResponderByKey names the signer by key hash instead of by name.
	ResponderByKey bool
}

// SignResponse encodes t as a successful BasicOCSPResponse signed by key,
// with signer's certificate as the responder ID.
func SignResponse(t ResponseTemplate, signer *x509.Certificate, key crypto.Signer, rand io.Reader) ([]byte, error) {
	singles := make([]asn1.RawValue, 0, len(t.Responses))
	for _, s := range t.Responses {
		b, err := marshalSingle(s)
		if err != nil {
			return nil, err
		}
		singles = append(singles, asn1.RawValue{FullBytes: b})
	}
	var rid asn1.RawValue
	if t.ResponderByKey {
		kh := keyID(signer.PublicKey)
		inner, _ := asn1.Marshal(kh)
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: inner}
	} else {
		rid = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: signer.RawSubject}
	}
	rd := ocspder.ResponseData{ResponderID: rid, ProducedAt: t.ProducedAt.UTC().Truncate(time.Second), Responses: singles}
	if t.Nonce != nil {
		rd.Extensions = []pkix.Extension{{Id: OIDOCSPNonce, Value: t.Nonce}}
	}
	tbs, err := asn1.Marshal(rd)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP response: %w", err)
	}
	hash, alg, err := signatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := key.Sign(rand, h.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("pki: signing OCSP response: %w", err)
	}
	basic := ocspder.BasicResponse{
		TBSResponseData:    asn1.RawValue{FullBytes: tbs},
		SignatureAlgorithm: alg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	}
	for _, c := range t.Certificates {
		basic.Certificates = append(basic.Certificates, asn1.RawValue{FullBytes: c.Raw})
	}
	bb, err := asn1.Marshal(basic)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding OCSP response: %w", err)
	}
	return asn1.Marshal(ocspder.Response{
		Status:        asn1.Enumerated(ocsp.Success),
		ResponseBytes: ocspder.ResponseBytes{ResponseType: ocspder.OIDBasic, Response: bb},
	})
}

// ErrorResponse returns an unsuccessful OCSPResponse with status s, such as
// ocsp.Malformed or ocsp.Unauthorized.
func ErrorResponse(s ocsp.ResponseStatus) []byte {
	return []byte{0x30, 0x03, 0x0a, 0x01, byte(s)}
}

func marshalSingle(s SingleResponse) ([]byte, error) {
	var status asn1.RawValue
	switch s.Status {
	case ocsp.Good:
		status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}
	case ocsp.Unknown:
		status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}
	case ocsp.Revoked:
		ri := revokedInfoDER{RevocationTime: s.RevokedAt.UTC(), Reason: -1}
		if s.Reason != Unspecified {
			ri.Reason = asn1.Enumerated(s.Reason)
		}
		b, err := asn1.Marshal(ri)
		if err != nil {
			return nil, err
		}
		// Re-tag the SEQUENCE as [1] IMPLICIT.
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(b, &raw); err != nil {
			return nil, err
		}
		status = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: raw.Bytes}
	default:
		return nil, fmt.Errorf("pki: unknown OCSP status %d", s.Status)
	}
	d := singleResponseDER{CertID: s.CertID.der(), CertStatus: status, ThisUpdate: s.ThisUpdate.UTC().Truncate(time.Second)}
	if !s.NextUpdate.IsZero() {
		d.NextUpdate = s.NextUpdate.UTC().Truncate(time.Second)
	}
	return asn1.Marshal(d)
}

func signatureAlgorithm(pub crypto.PublicKey) (crypto.Hash, pkix.AlgorithmIdentifier, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return crypto.SHA384, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}}, nil
		}
		return crypto.SHA256, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}}, nil
	}
	return 0, pkix.AlgorithmIdentifier{}, fmt.Errorf("pki: cannot sign OCSP responses with a %T key", pub)
}
