package conform

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/pkinit"
)

// allKDFs are the RFC 8636 KDFs the KDC agrees to: any the client offers.
var allKDFs = []pkinit.KDF{pkinit.KDFSHA256, pkinit.KDFSHA512, pkinit.KDFSHA384, pkinit.KDFSHA1}

// pkReply makes the PA-PK-AS-REP value for plan p and the reply key a client
// that accepts it derives. try counts the attempt's earlier replies: where
// the KDC can only guess the client's secret, it alternates its guesses.
func (k *KDC) pkReply(p plan, in *incoming, try int) (rep []byte, key pkinit.EncryptionKey, err error) {
	if in.clientPub == nil || p.keyTransport {
		return k.keyTransportReply(p, in)
	}
	return k.dhReply(p, in, try)
}

// dhReply is RFC 4556 §3.2.3.1's reply, with p's faults.
func (k *KDC) dhReply(p plan, in *incoming, try int) ([]byte, pkinit.EncryptionKey, error) {
	ap := in.authPack
	kdf, err := ap.SelectKDF(allKDFs...)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	own, err := in.clientPub.NewKey(k.rand)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	value, secrets, err := kdcPublicValue(p.kdcPublic, own, in)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	info, err := (&pkinit.KDCDHKeyInfo{SubjectPublicKey: value, Nonce: ap.PKAuthenticator.Nonce + p.dhNonceDelta}).Marshal()
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	signed, err := k.sign(p, info, pkinit.ContentDHKeyData)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	var clientNonce, serverNonce []byte
	if p.serverNonce {
		serverNonce = make([]byte, 32)
		if _, err := io.ReadFull(k.rand, serverNonce); err != nil {
			return nil, pkinit.EncryptionKey{}, err
		}
		clientNonce = ap.ClientDHNonce // what a client that takes the nonce mixes in
	}
	rep, err := (&pkinit.PKASRep{DHInfo: &pkinit.DHRepInfo{DHSignedData: signed, ServerDHNonce: serverNonce, KDF: kdf}}).Marshal()
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	key, err := pkinit.ReplyKeyFromSecret(secrets[try%len(secrets)], clientNonce, serverNonce, pkinit.KDFParams{
		KDF: kdf, EType: in.etype, Client: clientName(in), KDC: kdcName(in), ASReq: in.msg, PKASRep: rep,
	})
	return rep, key, err
}

// kdcPublicValue is the public value the KDC sends (as KDCDHKeyInfo's
// subjectPublicKey encodes it) and the secrets a client that accepts it may
// compute: one when the KDC knows it, two when it hangs on the parity of
// the client's private exponent or scalar.
func kdcPublicValue(f publicFault, own *pkinit.DHKey, in *incoming) (value []byte, secrets [][]byte, err error) {
	good, err := own.SharedSecret(in.clientPub.Value())
	if err != nil {
		return nil, nil, err
	}
	switch f {
	case publicGood:
		return own.PublicValue(), [][]byte{good}, nil
	case publicOffCurve:
		return offCurvePoint(in.request.Curve)
	}
	if in.prime == nil {
		return nil, nil, errors.New("conform: a DH fault for a request without a MODP group")
	}
	p, size := in.prime, len(in.prime.Bytes())
	pMinus1 := new(big.Int).Sub(p, big.NewInt(1))
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, size)) }
	switch f {
	case publicOne: // 1^x = 1
		return derInteger(big.NewInt(1)), [][]byte{pad(big.NewInt(1))}, nil
	case publicPMinus1: // (p−1)^x = 1 for even x, p−1 for odd
		return derInteger(pMinus1), [][]byte{pad(big.NewInt(1)), pad(pMinus1)}, nil
	case publicOutsideSubgroup: // (−y)^x = ±y^x: −1 is a non-residue mod a safe prime
		y := new(big.Int)
		if _, err := asn1.Unmarshal(own.PublicValue(), &y); err != nil {
			return nil, nil, err
		}
		g := new(big.Int).SetBytes(good)
		return derInteger(new(big.Int).Sub(p, y)), [][]byte{good, pad(new(big.Int).Sub(p, g))}, nil
	}
	return nil, nil, fmt.Errorf("conform: public-value fault %d", f)
}

// offCurvePoint is (1, 0) uncompressed: on y² = x³ − 3x + 2, not on any
// NIST curve, and of order 2 there, so a client that does not check
// computes the point itself (x = 1) for an odd scalar.
func offCurvePoint(curve string) ([]byte, [][]byte, error) {
	size := map[string]int{"P-256": 32, "P-384": 48, "P-521": 66}[curve]
	if size == 0 {
		return nil, nil, fmt.Errorf("conform: no curve %q", curve)
	}
	x := big.NewInt(1).FillBytes(make([]byte, size))
	point := append(append([]byte{4}, x...), make([]byte, size)...)
	return point, [][]byte{x}, nil
}

func derInteger(n *big.Int) []byte {
	b, _ := asn1.Marshal(n) // a positive big.Int always encodes
	return b
}

// keyTransportReply is RFC 4556 §3.2.3.2's reply, with p's faults.
func (k *KDC) keyTransportReply(p plan, in *incoming) ([]byte, pkinit.EncryptionKey, error) {
	if !isRSA(in.clientCert.PublicKey) {
		return nil, pkinit.EncryptionKey{}, errors.New("conform: key transport to a client certificate without an RSA key")
	}
	k5, err := randomKey(in.etype, k.rand)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	key := pkinit.EncryptionKey{KeyType: k5.KeyType, KeyValue: k5.KeyValue}
	pack, err := replyKeyPack(key, in.msg, p.asChecksum)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	signed, err := k.sign(p, pack, pkinit.ContentRKeyData)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	bare, err := contentOfContentInfo(signed)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	env, err := pkinit.EnvelopeData(bare, in.clientCert, k.rand)
	if err != nil {
		return nil, pkinit.EncryptionKey{}, err
	}
	rep, err := (&pkinit.PKASRep{EncKeyPack: env}).Marshal()
	return rep, key, err
}

// replyKeyPack encodes the ReplyKeyPack, its asChecksum broken or left out
// as f says.
func replyKeyPack(key pkinit.EncryptionKey, asReq []byte, f checksumFault) ([]byte, error) {
	sum, err := pkinit.ASChecksum(key, asReq)
	if err != nil {
		return nil, err
	}
	switch f {
	case checksumWrong:
		sum.Checksum[0] ^= 0xff
	case checksumMissing:
		// ReplyKeyPack as drafts before RFC 4556 had it: the key alone.
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(key.KeyType)) })
					b.AddASN1(cbasn1.Tag(1).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1OctetString(key.KeyValue) })
				})
			})
		})
		return b.Bytes()
	}
	return (&pkinit.ReplyKeyPack{ReplyKey: key, ASChecksum: sum}).Marshal()
}

// contentOfContentInfo is the SignedData inside a ContentInfo: RFC 4556
// §3.2.3.2 envelopes the bare SignedData.
func contentOfContentInfo(der []byte) ([]byte, error) {
	s := cryptobyte.String(der)
	var ci, content, inner cryptobyte.String
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) || !content.ReadASN1Element(&inner, cbasn1.SEQUENCE) {
		return nil, errors.New("conform: malformed ContentInfo")
	}
	return inner, nil
}

// sign is the KDC's SignedData over content with p's identity, digest and
// signature fault.
func (k *KDC) sign(p plan, content []byte, ct pkinit.ContentType) ([]byte, error) {
	var signer crypto.Signer = k.pki.KDCKey
	if p.breakSignature {
		signer = brokenSigner{signer}
	}
	return pkinit.SignData(content, ct, signer, k.pki.KDC[p.identity], pkinit.SignOptions{
		Hash: p.hash, Chain: k.pki.Chain[p.identity], Rand: k.rand,
	})
}

// brokenSigner signs, then flips the signature's last byte.
type brokenSigner struct{ crypto.Signer }

func (b brokenSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := b.Signer.Sign(rand, digest, opts)
	if err == nil && len(sig) > 0 {
		sig[len(sig)-1] ^= 0x01
	}
	return sig, err
}
