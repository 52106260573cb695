package pkinit

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// BuildPKASReq signs authPack with the client's key and certificate and
// returns the DER PA-PK-AS-REQ padata-value (RFC 4556 §3.2.1).
func BuildPKASReq(authPack *AuthPack, signer crypto.Signer, cert *x509.Certificate, opts SignOptions) ([]byte, error) {
	ap, err := authPack.Marshal()
	if err != nil {
		return nil, err
	}
	signed, err := SignData(ap, ContentAuthData, signer, cert, opts)
	if err != nil {
		return nil, err
	}
	return (&PKASReq{SignedAuthPack: signed}).Marshal()
}

// VerifyAuthPack is the KDC's first check of a PA-PK-AS-REQ: the signature
// over the AuthPack (the signer certificate is returned for path building),
// and paChecksum / paChecksum2 against reqBody, the DER KDC-REQ-BODY as
// received. The caller still checks the nonce against the request body, the
// time against its clock and the freshness token.
func VerifyAuthPack(req *PKASReq, reqBody []byte, opts VerifyOptions) (*AuthPack, *SignedContent, error) {
	opts.ContentType = ContentAuthData
	sc, err := VerifySignedData(req.SignedAuthPack, opts)
	if err != nil {
		return nil, nil, err
	}
	ap, err := ParseAuthPack(sc.Content)
	if err != nil {
		return nil, nil, err
	}
	if err := ap.PKAuthenticator.CheckChecksums(reqBody, true); err != nil {
		return nil, nil, err
	}
	return ap, sc, nil
}

// KDCSigner is the KDC's signing identity.
type KDCSigner struct {
	Signer      crypto.Signer
	Certificate *x509.Certificate
	Options     SignOptions
}

// KDFInputs are what the RFC 8636 KDF binds the reply key to.
type KDFInputs struct {
	Client KRB5PrincipalName // the client principal of the AS-REQ
	KDC    KRB5PrincipalName // krbtgt/REALM@REALM
	ASReq  []byte            // DER AS-REQ as received
}

// DHReplyParams are the KDC's inputs for a key-agreement reply.
type DHReplyParams struct {
	AuthPack *AuthPack
	Policy   AgreementPolicy
	KDFs     []KDF // the KDFs the KDC allows (RFC 8636); empty allows none but octetstring2key
	EType    int32 // enctype of the reply key
	KDFInputs
	// ServerDHNonce is sent only when the client sent a clientDHNonce and
	// the KDC reuses its key (ServerKey with ServerKeyExpiration), RFC 4556
	// §3.2.3.1.
	ServerDHNonce []byte
	Identity      KDCSigner // the KDC's key and certificate
	Rand          io.Reader
	// ClientPublic, when set, is AuthPack.ClientPublicValue as the caller
	// already parsed and validated it with [ParseClientPublicValue], so it
	// is not validated twice.
	ClientPublic *ClientPublic
	// ServerKey, when set, supplies the KDC's key for the client's group or
	// curve — one reused until ServerKeyExpiration, which the reply then
	// announces as dhKeyExpiration (RFC 4556 §3.2.3.1). Nil makes a fresh key.
	ServerKey           func(*ClientPublic) (*DHKey, error)
	ServerKeyExpiration time.Time
}

// Reply is the KDC's PA-PK-AS-REP and the key the AS-REP enc-part uses.
type Reply struct {
	PKASRep  []byte // DER padata-value
	ReplyKey EncryptionKey
	KDF      KDF
}

// BuildDHReply makes the KDC's DH or ECDH reply, RFC 4556 §3.2.3.1: a fresh
// key in the client's group, a signed KDCDHKeyInfo, the KDF the client and
// the KDC share, and the reply key derived from them.
func BuildDHReply(p DHReplyParams) (*Reply, error) {
	if p.AuthPack.ClientPublicValue == nil {
		return nil, fmt.Errorf("%w: no clientPublicValue", ErrBadPublicValue)
	}
	kdf, err := p.AuthPack.SelectKDF(p.KDFs...)
	if err != nil {
		return nil, err
	}
	pub := p.ClientPublic
	if pub == nil || !bytes.Equal(pub.spki, p.AuthPack.ClientPublicValue) {
		if pub, err = ParseClientPublicValue(p.AuthPack.ClientPublicValue, p.Policy); err != nil {
			return nil, err
		}
	}
	var key *DHKey
	var expiration time.Time
	if p.ServerKey != nil {
		key, err = p.ServerKey(pub)
		expiration = p.ServerKeyExpiration
	} else {
		key, err = pub.NewKey(p.Rand)
	}
	if err != nil {
		return nil, err
	}
	if key.curve != pub.Curve || (pub.Curve == 0 && key.group != pub.Group) {
		return nil, fmt.Errorf("%w: the KDC key is not in the client's group", ErrBadPublicValue)
	}
	secret, err := key.agree(pub)
	if err != nil {
		return nil, err
	}
	defer clear(secret) // best effort: the reply key is all that outlives the call
	info, err := (&KDCDHKeyInfo{SubjectPublicKey: key.PublicValue(), Nonce: p.AuthPack.PKAuthenticator.Nonce, DHKeyExpiration: expiration}).Marshal()
	if err != nil {
		return nil, err
	}
	signed, err := SignData(info, ContentDHKeyData, p.Identity.Signer, p.Identity.Certificate, p.Identity.Options)
	if err != nil {
		return nil, err
	}
	// The nonces take part only when both are sent: serverDHNonce answers a
	// clientDHNonce, and only from a KDC that reuses its key (RFC 4556
	// §3.2.3.1: present if and only if dhKeyExpiration is). Without it the
	// client's nonce is ignored, as MIT's KDC ignores it.
	var clientNonce, serverNonce []byte
	if p.AuthPack.ClientDHNonce != nil && p.ServerDHNonce != nil && p.ServerKey != nil && !p.ServerKeyExpiration.IsZero() {
		clientNonce, serverNonce = p.AuthPack.ClientDHNonce, p.ServerDHNonce
	}
	rep, err := (&PKASRep{DHInfo: &DHRepInfo{DHSignedData: signed, ServerDHNonce: serverNonce, KDF: kdf}}).Marshal()
	if err != nil {
		return nil, err
	}
	replyKey, err := ReplyKeyFromSecret(secret, clientNonce, serverNonce, KDFParams{
		KDF: kdf, EType: p.EType, Client: p.Client, KDC: p.KDC, ASReq: p.ASReq, PKASRep: rep,
	})
	if err != nil {
		return nil, err
	}
	return &Reply{PKASRep: rep, ReplyKey: replyKey, KDF: kdf}, nil
}

// KeyTransportParams are the KDC's inputs for an RSA key-transport reply.
type KeyTransportParams struct {
	ClientCertificate *x509.Certificate // the recipient: the AuthPack signer
	EType             int32
	ASReq             []byte // DER AS-REQ as received, for the asChecksum
	Identity          KDCSigner
	Rand              io.Reader
}

// BuildKeyTransportReply makes the KDC's RSA key-transport reply, RFC 4556
// §3.2.3.2: a random reply key and its asChecksum in a signed ReplyKeyPack,
// enveloped for the client's certificate.
func BuildKeyTransportReply(p KeyTransportParams) (*Reply, error) {
	e, err := etypeKeyOf(p.EType)
	if err != nil {
		return nil, err
	}
	seed := make([]byte, e.seedLen)
	if _, err := io.ReadFull(p.Rand, seed); err != nil {
		return nil, fmt.Errorf("pkinit: reply key: %w", err)
	}
	key := EncryptionKey{KeyType: p.EType, KeyValue: e.randomToKey(seed)}
	sum, err := ASChecksum(key, p.ASReq)
	if err != nil {
		return nil, err
	}
	pack, err := (&ReplyKeyPack{ReplyKey: key, ASChecksum: sum}).Marshal()
	if err != nil {
		return nil, err
	}
	signed, err := SignData(pack, ContentRKeyData, p.Identity.Signer, p.Identity.Certificate, p.Identity.Options)
	if err != nil {
		return nil, err
	}
	bare, err := unwrapContentInfo(signed)
	if err != nil {
		return nil, err
	}
	env, err := EnvelopeData(bare, p.ClientCertificate, p.Rand)
	if err != nil {
		return nil, err
	}
	rep, err := (&PKASRep{EncKeyPack: env}).Marshal()
	if err != nil {
		return nil, err
	}
	return &Reply{PKASRep: rep, ReplyKey: key}, nil
}

// unwrapContentInfo returns the content of a ContentInfo: RFC 4556 puts the
// bare SignedData inside encKeyPack's EnvelopedData.
func unwrapContentInfo(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var ci, content, inner cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&content, tagCtx0Cons) || !content.ReadASN1Element(&inner, cbasn1.SEQUENCE) {
		return nil, malformed("ContentInfo", nil)
	}
	return inner, nil
}

// ClientReplyParams are the client's inputs for reading the KDC's reply.
type ClientReplyParams struct {
	Key           *DHKey // the client's key-agreement key; nil for key transport
	Nonce         uint32 // the PKAuthenticator nonce
	ClientDHNonce []byte
	EType         int32 // the enctype of the AS-REP enc-part
	KDFInputs
	// Verify finds the KDC's certificate; its trust is checked by the caller.
	Verify VerifyOptions
	// For key transport: the client's certificate and private key.
	Certificate *x509.Certificate
	Decrypter   crypto.Decrypter
	Rand        io.Reader
}

// ClientReplyKey reads the KDC's PA-PK-AS-REP (DER padata-value, as
// received): it verifies the KDC's signature, checks the nonce (DH) or the
// asChecksum (key transport) and returns the reply key, with the verified
// SignedData whose Signer the caller must still check (path, KDC EKU, name).
func ClientReplyKey(pkASRep []byte, p ClientReplyParams) (EncryptionKey, *SignedContent, error) {
	rep, err := ParsePKASRep(pkASRep)
	if err != nil {
		return EncryptionKey{}, nil, err
	}
	if rep.DHInfo != nil {
		if p.Key == nil {
			return EncryptionKey{}, nil, fmt.Errorf("%w: KDC answered with key agreement to a key-transport request", ErrMalformed)
		}
		opts := p.Verify
		opts.ContentType = ContentDHKeyData
		sc, err := VerifySignedData(rep.DHInfo.DHSignedData, opts)
		if err != nil {
			return EncryptionKey{}, nil, err
		}
		info, err := ParseKDCDHKeyInfo(sc.Content)
		if err != nil {
			return EncryptionKey{}, nil, err
		}
		if info.Nonce != p.Nonce {
			return EncryptionKey{}, nil, ErrNonceMismatch
		}
		// RFC 4556 §3.2.3.1: serverDHNonce is present if and only if
		// dhKeyExpiration is; a nonce without an expiry is a reused key the
		// KDC does not admit to.
		if rep.DHInfo.ServerDHNonce != nil && info.DHKeyExpiration.IsZero() {
			return EncryptionKey{}, nil, fmt.Errorf("%w: serverDHNonce without dhKeyExpiration (RFC 4556 §3.2.3.1)", ErrMalformed)
		}
		secret, err := p.Key.SharedSecret(info.SubjectPublicKey)
		if err != nil {
			return EncryptionKey{}, nil, err
		}
		defer clear(secret)
		// A KDC that sends no serverDHNonce ignored the client's nonce.
		clientNonce := p.ClientDHNonce
		if rep.DHInfo.ServerDHNonce == nil {
			clientNonce = nil
		}
		key, err := ReplyKeyFromSecret(secret, clientNonce, rep.DHInfo.ServerDHNonce, KDFParams{
			KDF: rep.DHInfo.KDF, EType: p.EType, Client: p.Client, KDC: p.KDC, ASReq: p.ASReq, PKASRep: pkASRep,
		})
		return key, sc, err
	}
	if p.Decrypter == nil || p.Certificate == nil {
		return EncryptionKey{}, nil, fmt.Errorf("%w: KDC answered with key transport to a key-agreement request", ErrMalformed)
	}
	_, inner, err := OpenEnvelopedData(rep.EncKeyPack, p.Certificate, p.Decrypter, p.Rand)
	if err != nil {
		return EncryptionKey{}, nil, err
	}
	opts := p.Verify
	opts.ContentType = ContentRKeyData
	sc, err := VerifySignedData(inner, opts)
	if err != nil {
		return EncryptionKey{}, nil, err
	}
	pack, err := ParseReplyKeyPack(sc.Content)
	if err != nil {
		return EncryptionKey{}, nil, err
	}
	if pack.ReplyKey.KeyType != p.EType {
		return EncryptionKey{}, nil, fmt.Errorf("%w: reply key is etype %d, enc-part %d", ErrASChecksumMismatch, pack.ReplyKey.KeyType, p.EType)
	}
	if err := pack.CheckASChecksum(p.ASReq); err != nil {
		return EncryptionKey{}, nil, err
	}
	return pack.ReplyKey, sc, nil
}
