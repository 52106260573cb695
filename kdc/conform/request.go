package conform

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/jcmturner/gokrb5/v8/messages"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/pkinit"
)

var errNoPKINIT = errors.New("conform: no PA-PK-AS-REQ")

// incoming is a client's PKINIT AS-REQ, read far enough to answer it.
type incoming struct {
	msg        []byte // the AS-REQ as received: the KDF and asChecksum bind it
	body       messages.KDCReqBody
	authPack   *pkinit.AuthPack
	clientCert *x509.Certificate
	clientPub  *pkinit.ClientPublic // nil for key transport
	prime      *big.Int             // the MODP group's p, from the client's domain parameters
	etype      int32
	request    Request
}

// Encryption types the KDC issues keys of, RFC 3962.
const (
	etypeAES128 int32 = 17 // aes128-cts-hmac-sha1-96
	etypeAES256 int32 = 18 // aes256-cts-hmac-sha1-96
)

// readRequest decodes an AS-REQ and its signed AuthPack. The client's
// certificate is not judged: the client is under test, not its identity.
func readRequest(msg []byte, realm string) (*incoming, error) {
	var req messages.ASReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, fmt.Errorf("conform: malformed AS-REQ: %w", err)
	}
	var pkReq []byte
	for _, pa := range req.PAData {
		if pa.PADataType == int32(pkinit.PAPKASReq) {
			pkReq = pa.PADataValue
		}
	}
	if pkReq == nil {
		return nil, errNoPKINIT
	}
	body, err := rawReqBody(msg)
	if err != nil {
		return nil, err
	}
	parsed, err := pkinit.ParsePKASReq(pkReq)
	if err != nil {
		return nil, err
	}
	ap, sc, err := pkinit.VerifyAuthPack(parsed, body, pkinit.VerifyOptions{AllowSHA1: true})
	if err != nil {
		return nil, err
	}
	in := &incoming{msg: msg, body: req.ReqBody, authPack: ap, clientCert: sc.Signer}
	if in.etype = chooseEType(req.ReqBody.EType); in.etype == 0 {
		return nil, fmt.Errorf("conform: none of the etypes %v is AES-SHA1", req.ReqBody.EType)
	}
	in.request = Request{
		OffersSHA2:   offersSHA2Digest(ap, sc.Hash),
		RSAClientKey: isRSA(sc.Signer.PublicKey),
	}
	if err := in.readKeyAgreement(); err != nil {
		return nil, err
	}
	return in, nil
}

// readKeyAgreement reads what the client's public value asks for.
func (in *incoming) readKeyAgreement() error {
	spki := in.authPack.ClientPublicValue
	if spki == nil {
		in.request.Exchange = ExchangeKeyTransport
		return nil
	}
	pub, err := pkinit.ParseClientPublicValue(spki, pkinit.AgreementPolicy{AllowGroup2: true})
	if err != nil {
		return err
	}
	in.clientPub = pub
	if pub.Curve != 0 {
		in.request.Exchange, in.request.Curve = ExchangeECDH, curveNames[pub.Curve]
		return nil
	}
	in.request.Exchange, in.request.Group = ExchangeMODP, int(pub.Group)
	in.prime, err = dhPrime(spki)
	return err
}

var curveNames = map[pkinit.Curve]string{pkinit.CurveP256: "P-256", pkinit.CurveP384: "P-384", pkinit.CurveP521: "P-521"}

// dhPrime reads p from a dhpublicnumber SubjectPublicKeyInfo's
// DomainParameters (RFC 3279 §2.3.3), which ParseClientPublicValue has
// already matched to a known group.
func dhPrime(spki []byte) (*big.Int, error) {
	s := cryptobyte.String(spki)
	var info, alg, params cryptobyte.String
	p := new(big.Int)
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.SkipASN1(cbasn1.OBJECT_IDENTIFIER) || !alg.ReadASN1(&params, cbasn1.SEQUENCE) || !params.ReadASN1Integer(p) {
		return nil, errors.New("conform: clientPublicValue has no DH domain parameters")
	}
	return p, nil
}

// rawReqBody is the KDC-REQ-BODY as received, for the paChecksum:
// [APPLICATION 10] SEQUENCE { [1] pvno, [2] msg-type, [3] padata OPTIONAL, [4] req-body }.
func rawReqBody(msg []byte) ([]byte, error) {
	s := cryptobyte.String(msg)
	var req, seq, body cryptobyte.String
	ctx := func(n int) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }
	if !s.ReadASN1(&req, cbasn1.Tag(0x6a)) || !req.ReadASN1(&seq, cbasn1.SEQUENCE) ||
		!seq.SkipASN1(ctx(1)) || !seq.SkipASN1(ctx(2)) || !seq.SkipOptionalASN1(ctx(3)) ||
		!seq.ReadASN1(&body, ctx(4)) {
		return nil, errors.New("conform: malformed AS-REQ")
	}
	return body, nil
}

func chooseEType(offered []int32) int32 {
	for _, e := range offered {
		if e == etypeAES256 || e == etypeAES128 {
			return e
		}
	}
	return 0
}

// SHA-2 digest and signature algorithms a client may list (RFC 5754, RFC 4055, RFC 5758).
var sha2Algorithms = []asn1.ObjectIdentifier{
	{2, 16, 840, 1, 101, 3, 4, 2, 1}, {2, 16, 840, 1, 101, 3, 4, 2, 2}, {2, 16, 840, 1, 101, 3, 4, 2, 3},
	{1, 2, 840, 113549, 1, 1, 11}, {1, 2, 840, 113549, 1, 1, 12}, {1, 2, 840, 113549, 1, 1, 13},
	{1, 2, 840, 10045, 4, 3, 2}, {1, 2, 840, 10045, 4, 3, 3}, {1, 2, 840, 10045, 4, 3, 4},
}

func offersSHA2Digest(ap *pkinit.AuthPack, signed crypto.Hash) bool {
	if signed == crypto.SHA256 || signed == crypto.SHA384 || signed == crypto.SHA512 {
		return true
	}
	for _, t := range ap.SupportedCMSTypes {
		for _, oid := range sha2Algorithms {
			if t.Algorithm.Equal(oid) {
				return true
			}
		}
	}
	return false
}
