package pkinit

import "encoding/asn1"

// PAType is a Kerberos pre-authentication data type (padata-type), RFC 4120 §5.2.7.
type PAType int32

// Pre-authentication data types used by PKINIT.
const (
	PAPKASReqOld  PAType = 14  // PA_PK_AS_REQ_OLD, draft-ietf-cat-kerberos-pk-init-09 (Windows 2000)
	PAPKASRepOld  PAType = 15  // PA_PK_AS_REP_OLD, draft-ietf-cat-kerberos-pk-init-09
	PAPKASReq     PAType = 16  // PA_PK_AS_REQ, RFC 4556 §3.2.1
	PAPKASRep     PAType = 17  // PA_PK_AS_REP, RFC 4556 §3.2.3
	PAASFreshness PAType = 150 // PA_AS_FRESHNESS, RFC 8070 §4
)

// TDType is a TYPED-DATA type carried in KRB-ERROR e-data, RFC 4120 §5.9.1.
type TDType int32

// Typed-data types used by PKINIT errors.
const (
	TDTrustedCertifiers   TDType = 104 // TD_TRUSTED_CERTIFIERS, RFC 4556 §3.2.2
	TDInvalidCertificates TDType = 105 // TD_INVALID_CERTIFICATES, RFC 4556 §3.2.2
	TDDHParameters        TDType = 109 // TD_DH_PARAMETERS, RFC 4556 §3.2.2
)

// Key usage of the asChecksum in a ReplyKeyPack, RFC 4556 §3.2.3.2.
const keyUsageASChecksum = 6

// Object identifiers, each with the name its RFC gives it.
var (
	oidPKINITAuthData    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 1}          // id-pkinit-authData, RFC 4556 §3.2.1
	oidPKINITDHKeyData   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 2}          // id-pkinit-DHKeyData, RFC 4556 §3.2.3.1
	oidPKINITRKeyData    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 3}          // id-pkinit-rkeyData, RFC 4556 §3.2.3.2
	oidPKINITKDFSHA1     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 6, 1}       // id-pkinit-kdf-ah-sha1, RFC 8636 §7
	oidPKINITKDFSHA256   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 6, 2}       // id-pkinit-kdf-ah-sha256, RFC 8636 §7
	oidPKINITKDFSHA512   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 6, 3}       // id-pkinit-kdf-ah-sha512, RFC 8636 §7
	oidPKINITKDFSHA384   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 2, 3, 6, 4}       // id-pkinit-kdf-ah-sha384, RFC 8636 §7
	oidData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}      // id-data, RFC 5652 §4
	oidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}      // id-signedData, RFC 5652 §5.1
	oidEnvelopedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}      // id-envelopedData, RFC 5652 §6.1
	oidAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}      // id-contentType, RFC 5652 §11.1
	oidAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}      // id-messageDigest, RFC 5652 §11.2
	oidSHA1              = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}              // id-sha1, RFC 3370 §2.1
	oidSHA256            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}  // id-sha256, RFC 5754 §2.2
	oidSHA384            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}  // id-sha384, RFC 5754 §2.3
	oidSHA512            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}  // id-sha512, RFC 5754 §2.4
	oidRSAEncryption     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}      // rsaEncryption, RFC 3370 §3.2
	oidSHA1WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}      // sha1WithRSAEncryption, RFC 3370 §3.2
	oidSHA256WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}     // sha256WithRSAEncryption, RFC 5754 §3.2
	oidSHA384WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}     // sha384WithRSAEncryption, RFC 5754 §3.2
	oidSHA512WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}     // sha512WithRSAEncryption, RFC 5754 §3.2
	oidECDSAWithSHA1     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}          // ecdsa-with-SHA1, RFC 3279 §2.2.3
	oidECDSAWithSHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}       // ecdsa-with-SHA256, RFC 5754 §3.3
	oidECDSAWithSHA384   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}       // ecdsa-with-SHA384, RFC 5754 §3.3
	oidECDSAWithSHA512   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}       // ecdsa-with-SHA512, RFC 5754 §3.3
	oidDHPublicNumber    = asn1.ObjectIdentifier{1, 2, 840, 10046, 2, 1}          // dhpublicnumber, RFC 3279 §2.3.3
	oidECPublicKey       = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}          // id-ecPublicKey, RFC 5480 §2.1.1
	oidCurveP256         = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}       // secp256r1, RFC 5480 §2.1.1.1
	oidCurveP384         = asn1.ObjectIdentifier{1, 3, 132, 0, 34}                // secp384r1, RFC 5480 §2.1.1.1
	oidCurveP521         = asn1.ObjectIdentifier{1, 3, 132, 0, 35}                // secp521r1, RFC 5480 §2.1.1.1
	oidAES128CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}  // id-aes128-CBC, RFC 3565 §4.1
	oidAES192CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22} // id-aes192-CBC, RFC 3565 §4.1
	oidAES256CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42} // id-aes256-CBC, RFC 3565 §4.1
	oidDESEDE3CBC        = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}         // des-ede3-cbc, RFC 3370 §5.1
)

// ContentType names the eContentType of a SignedData PKINIT builds or expects.
type ContentType int

// Content types of the SignedData PKINIT carries.
const (
	ContentAuthData  ContentType = iota + 1 // id-pkinit-authData: the client's AuthPack, RFC 4556 §3.2.1
	ContentDHKeyData                        // id-pkinit-DHKeyData: the KDC's KDCDHKeyInfo, RFC 4556 §3.2.3.1
	ContentRKeyData                         // id-pkinit-rkeyData: the KDC's ReplyKeyPack, RFC 4556 §3.2.3.2
	ContentData                             // id-data: opaque bytes, RFC 5652 §4
)

func (c ContentType) oid() asn1.ObjectIdentifier {
	switch c {
	case ContentAuthData:
		return oidPKINITAuthData
	case ContentDHKeyData:
		return oidPKINITDHKeyData
	case ContentRKeyData:
		return oidPKINITRKeyData
	case ContentData:
		return oidData
	}
	return nil
}

func contentTypeOf(oid asn1.ObjectIdentifier) ContentType {
	for _, c := range []ContentType{ContentAuthData, ContentDHKeyData, ContentRKeyData, ContentData} {
		if oid.Equal(c.oid()) {
			return c
		}
	}
	return 0
}

// String returns the RFC name of the content type.
func (c ContentType) String() string {
	switch c {
	case ContentAuthData:
		return "id-pkinit-authData"
	case ContentDHKeyData:
		return "id-pkinit-DHKeyData"
	case ContentRKeyData:
		return "id-pkinit-rkeyData"
	case ContentData:
		return "id-data"
	}
	return "unknown content type"
}
