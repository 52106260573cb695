package pkinit

// The reflection-based implementations the hand-written decoders and
// encoders replaced, kept verbatim (renamed) as the reference that
// TestAuthPackDecoderMatches, TestReplyEncodersMatch, TestSignDataMatches
// and their fuzz targets hold the new code to.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func parsePKASReqRef(b []byte) (*PKASReq, error) {
	var d paPKASReqDER
	if err := unmarshal(b, &d, "PA-PK-AS-REQ"); err != nil {
		return nil, err
	}
	return &PKASReq{d.SignedAuthPack, fromEPIDER(d.TrustedCertifiers), d.KDCPkID, b}, nil
}

func parseAuthPackRef(b []byte) (*AuthPack, error) {
	var d authPackDER
	if err := unmarshal(b, &d, "AuthPack"); err != nil {
		return nil, err
	}
	pd := d.PKAuthenticator
	if pd.Cusec < 0 || pd.Cusec > 999999 {
		return nil, malformed("PKAuthenticator", errors.New("cusec out of range"))
	}
	if pd.Nonce < 0 || pd.Nonce > 0xffffffff {
		return nil, malformed("PKAuthenticator", errors.New("nonce out of range"))
	}
	a := &AuthPack{
		PKAuthenticator: PKAuthenticator{
			Cusec:          int(pd.Cusec),
			CTime:          pd.CTime.UTC(),
			Nonce:          uint32(pd.Nonce),
			PAChecksum:     pd.PAChecksum,
			FreshnessToken: pd.FreshnessToken,
		},
		SupportedCMSTypes: d.SupportedCMSTypes,
		ClientDHNonce:     d.ClientDHNonce,
		Raw:               b,
	}
	if pd.PAChecksum2.Checksum != nil || pd.PAChecksum2.Algorithm.Algorithm != nil {
		c := PAChecksum2(pd.PAChecksum2)
		a.PKAuthenticator.PAChecksum2 = &c
	}
	if raw := cryptobyte.String(d.ClientPublicValue.Raw); len(raw) != 0 {
		// encoding/asn1 keeps the explicit [1] around the SubjectPublicKeyInfo.
		var spki cryptobyte.String
		if raw.PeekASN1Tag(tagCtx1Cons) && raw.ReadASN1(&raw, tagCtx1Cons) && raw.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
			a.ClientPublicValue = spki
		} else {
			a.ClientPublicValue = d.ClientPublicValue.Raw
		}
	}
	for _, k := range d.SupportedKDFs {
		if kdf := kdfOf(k.KDFID); kdf != 0 {
			a.SupportedKDFs = append(a.SupportedKDFs, kdf)
		}
	}
	if len(d.SupportedKDFs) != 0 && len(a.SupportedKDFs) == 0 {
		// The client offered only KDFs we do not know: remember that it asked.
		a.SupportedKDFs = []KDF{}
	}
	return a, nil
}

func marshalPKASRepRef(r *PKASRep) ([]byte, error) {
	switch {
	case r.DHInfo != nil && r.EncKeyPack == nil:
		d := dhRepInfoDER{DHSignedData: r.DHInfo.DHSignedData, ServerDHNonce: r.DHInfo.ServerDHNonce}
		if r.DHInfo.KDF != KDFOctetString2Key {
			oid := r.DHInfo.KDF.oid()
			if oid == nil {
				return nil, fmt.Errorf("%w: %v has no KDF identifier", ErrNoAcceptableKDF, r.DHInfo.KDF)
			}
			d.KDF.KDFID = oid
		}
		return marshal(d, "PA-PK-AS-REP", "explicit,tag:0")
	case r.DHInfo == nil && r.EncKeyPack != nil:
		return marshal(r.EncKeyPack, "PA-PK-AS-REP", "tag:1")
	}
	return nil, malformed("PA-PK-AS-REP", errors.New("exactly one of dhInfo and encKeyPack must be set"))
}

func marshalKDCDHKeyInfoRef(k *KDCDHKeyInfo) ([]byte, error) {
	d := kdcDHKeyInfoDER{
		SubjectPublicKey: asn1.BitString{Bytes: k.SubjectPublicKey, BitLength: 8 * len(k.SubjectPublicKey)},
		Nonce:            int64(k.Nonce),
	}
	if !k.DHKeyExpiration.IsZero() {
		d.DHKeyExpiration = k.DHKeyExpiration.UTC().Truncate(time.Second)
	}
	return marshal(d, "KDCDHKeyInfo")
}

func marshalReplyKeyPackRef(r *ReplyKeyPack) ([]byte, error) {
	return marshal(replyKeyPackDER{encryptionKeyDER(r.ReplyKey), checksumDER(r.ASChecksum)}, "ReplyKeyPack")
}

func signDataRef(content []byte, ct ContentType, signer crypto.Signer, cert *x509.Certificate, opts SignOptions) ([]byte, error) {
	alg, err := signingAlgorithmsFor(ct, signer, opts.Hash)
	if err != nil {
		return nil, err
	}
	oid, h, digestOID, sigAlg, sigAlgNULL := alg.content, alg.hash, alg.digest, alg.signature, alg.signatureNULL

	md := h.New()
	md.Write(content)
	attrs := signedAttributesRef(oid, md.Sum(nil))
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

// signedAttributesRef returns the DER SET OF Attribute (tag 0x31) that is signed:
// contentType and messageDigest, in DER order. Its length always fits one
// length octet, so the contents start at offset 2.
func signedAttributesRef(ct asn1.ObjectIdentifier, digest []byte) []byte {
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
