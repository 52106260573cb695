package pkinit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// signatureAlgorithm is a CMS signature algorithm [VerifySignedData]
// accepts (RFC 3370 §3, RFC 5754 §3).
type signatureAlgorithm struct {
	oid  asn1.ObjectIdentifier
	name string
	rsa  bool        // RSA PKCS #1 v1.5; else ECDSA
	hash crypto.Hash // zero: the SignerInfo's digestAlgorithm (rsaEncryption)
}

// signatureAlgorithms are those the verifier accepts, strongest first within
// each key type: the order of [SupportedCMSTypes].
var signatureAlgorithms = []signatureAlgorithm{
	{oidECDSAWithSHA512, "ecdsa-with-SHA512", false, crypto.SHA512},
	{oidECDSAWithSHA384, "ecdsa-with-SHA384", false, crypto.SHA384},
	{oidECDSAWithSHA256, "ecdsa-with-SHA256", false, crypto.SHA256},
	{oidSHA512WithRSA, "sha512WithRSAEncryption", true, crypto.SHA512},
	{oidSHA384WithRSA, "sha384WithRSAEncryption", true, crypto.SHA384},
	{oidSHA256WithRSA, "sha256WithRSAEncryption", true, crypto.SHA256},
	{oidECDSAWithSHA1, "ecdsa-with-SHA1", false, crypto.SHA1},
	{oidSHA1WithRSA, "sha1WithRSAEncryption", true, crypto.SHA1},
	{oidRSAEncryption, "rsaEncryption", true, 0},
}

func signatureAlgorithmOf(oid asn1.ObjectIdentifier) (signatureAlgorithm, bool) {
	for _, a := range signatureAlgorithms {
		if a.oid.Equal(oid) {
			return a, true
		}
	}
	return signatureAlgorithm{}, false
}

// algorithmName names a digest or signature algorithm OID for people.
func algorithmName(oid asn1.ObjectIdentifier) string {
	if a, ok := signatureAlgorithmOf(oid); ok {
		return fmt.Sprintf("%s (%v)", a.name, oid)
	}
	names := map[crypto.Hash]string{crypto.SHA1: "id-sha1", crypto.SHA256: "id-sha256", crypto.SHA384: "id-sha384", crypto.SHA512: "id-sha512"}
	if n, ok := names[hashOfDigestOID(oid)]; ok {
		return fmt.Sprintf("%s (%v)", n, oid)
	}
	return oid.String()
}

// SupportedCMSTypes returns the signature algorithms [VerifySignedData]
// accepts, strongest first, for AuthPack.SupportedCMSTypes (RFC 4556
// §3.2.1): ecdsa-with-SHA512, -SHA384, -SHA256, then sha512-, sha384- and
// sha256WithRSAEncryption. A KDC that reads the list (Heimdal's and so
// Samba's: hx509_crypto_select takes the first one its key can make) then
// signs its reply with SHA-2, where without a list it assumes an old client
// and signs with SHA-1. allowSHA1 appends ecdsa-with-SHA1 and
// sha1WithRSAEncryption, last. RSA parameters are NULL (RFC 5754 §3.2),
// ECDSA parameters absent (RFC 5758 §3.2). MIT krb5 1.21 sends the same
// kind of list (ecdsa-with-SHA512, -SHA256, sha512-, sha256WithRSAEncryption);
// MIT 1.20 sends only des-ede3-cbc, and MIT's KDC ignores the list.
func SupportedCMSTypes(allowSHA1 bool) []pkix.AlgorithmIdentifier {
	var out []pkix.AlgorithmIdentifier
	for _, a := range signatureAlgorithms {
		if a.hash == 0 || (a.hash == crypto.SHA1 && !allowSHA1) {
			continue
		}
		ai := pkix.AlgorithmIdentifier{Algorithm: a.oid}
		if a.rsa {
			ai.Parameters = asn1.NullRawValue
		}
		out = append(out, ai)
	}
	return out
}

// ReplyHash is the digest a KDC signs its reply to this AuthPack with, for
// SignOptions.Hash: the first of the client's supportedCMSTypes that
// [SignData] can make with key (a signature algorithm for its type, or a
// digest algorithm, as Heimdal's client lists them too), SHA-1 aside; SHA-1
// only when it is all the client lists and allowSHA1; else SHA-256, as for a
// client that sends no usable list (MIT krb5 1.20 lists only des-ede3-cbc).
func (a *AuthPack) ReplyHash(key crypto.PublicKey, allowSHA1 bool) crypto.Hash {
	_, isRSA := key.(*rsa.PublicKey)
	sha1Listed := false
	for _, t := range a.SupportedCMSTypes {
		h := hashOfDigestOID(t.Algorithm)
		if alg, ok := signatureAlgorithmOf(t.Algorithm); ok && alg.rsa == isRSA {
			h = alg.hash
		}
		switch h {
		case 0:
		case crypto.SHA1:
			sha1Listed = true
		default:
			return h
		}
	}
	if sha1Listed && allowSHA1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

// signatureHashes returns the digest of the content (the SignerInfo's
// digestAlgorithm, RFC 5652 §5.4) and the hash the signature is made over
// (the one its signatureAlgorithm names, else the digest), and checks that
// the algorithm fits the signer's key. Heimdal's hx509 picks the two apart:
// for a client listing only sha256WithRSAEncryption it digests with SHA-512
// and signs over SHA-256, and verifies each by its own algorithm, as this does.
func signatureHashes(si signerInfo, pub any, allowSHA1 bool) (digest, sig crypto.Hash, err error) {
	digest = hashOfDigestOID(si.digestAlg)
	if digest == 0 {
		return 0, 0, fmt.Errorf("%w: digest algorithm %v", ErrUnsupportedDigest, si.digestAlg)
	}
	alg, ok := signatureAlgorithmOf(si.sigAlg)
	if !ok {
		return 0, 0, fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedDigest, si.sigAlg)
	}
	sig = alg.hash
	if sig == 0 {
		sig = digest
	}
	if !allowSHA1 && (digest == crypto.SHA1 || sig == crypto.SHA1) {
		return 0, 0, fmt.Errorf("%w: digest %s, signature %s", ErrSHA1Signature, algorithmName(si.digestAlg), algorithmName(si.sigAlg))
	}
	_, isRSA := pub.(*rsa.PublicKey)
	_, isEC := pub.(*ecdsa.PublicKey)
	if alg.rsa && isEC {
		// MIT krb5 1.20 labels its ECDSA signatures sha256WithRSAEncryption;
		// OpenSSL, and so MIT's KDC, verify by the key's type. The signature
		// is still checked as ECDSA over the named digest.
		return digest, sig, nil
	}
	if (alg.rsa && !isRSA) || (!alg.rsa && !isEC) {
		return 0, 0, fmt.Errorf("%w: signature algorithm %s does not fit a %T key", ErrBadSignature, alg.name, pub)
	}
	return digest, sig, nil
}
