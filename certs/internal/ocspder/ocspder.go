// Package ocspder holds the DER mirrors of RFC 6960's OCSP structures that
// both the test responder (certs/pki) and the verifier (certs/revocation)
// need beyond what golang.org/x/crypto/ocsp exposes: the CertID hashes, the
// nonce extension, the raw ResponseData that is signed.
package ocspder

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"
)

// Object identifiers of RFC 6960.
var (
	OIDBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1} // id-pkix-ocsp-basic, §4.2.1
	OIDNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2} // id-pkix-ocsp-nonce, §4.4.1
)

// CertID is RFC 6960 §4.1.1's CertID.
type CertID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// ResponseData is §4.2.1's ResponseData; Raw keeps the signed bytes when
// decoding and is empty when encoding.
type ResponseData struct {
	Raw         asn1.RawContent
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []asn1.RawValue
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// BasicResponse is §4.2.1's BasicOCSPResponse.
type BasicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// ResponseBytes is §4.2.1's ResponseBytes.
type ResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// Response is §4.2.1's OCSPResponse.
type Response struct {
	Status        asn1.Enumerated
	ResponseBytes ResponseBytes `asn1:"explicit,tag:0,optional"`
}
