package kdc

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// agree makes a DH or ECDH reply within the group and curve policy.
func (k *KDC) agree(ap *pkinit.AuthPack, etype int32, in pkinit.KDFInputs, rec *AuditRecord) (*pkinit.Reply, error) {
	pub, err := pkinit.ParseClientPublicValue(ap.ClientPublicValue, pkinit.AgreementPolicy{AllowGroup2: slices.Contains(k.cfg.DHGroups, pkinit.MODPGroup2)})
	switch {
	case err != nil && errors.Is(err, pkinit.ErrWeakGroup):
		return nil, k.dhParamsRejection(err)
	case err != nil:
		return nil, reject(pkinit.ErrorCode(err), err, "client public value")
	case pub.Curve != 0 && !slices.Contains(k.cfg.Curves, pub.Curve):
		return nil, k.dhParamsRejection(fmt.Errorf("curve %s not accepted", curveName(pub.Curve)))
	case pub.Curve == 0 && !slices.Contains(k.cfg.DHGroups, pub.Group):
		return nil, k.dhParamsRejection(fmt.Errorf("MODP group %d not accepted", pub.Group))
	}
	if pub.Curve != 0 {
		rec.KeyExch = "ecdh-" + curveName(pub.Curve)
	} else {
		rec.KeyExch = fmt.Sprintf("dh-group%d", pub.Group)
	}
	var serverNonce []byte
	if ap.ClientDHNonce != nil {
		serverNonce = make([]byte, 32)
		if _, err := k.rand.Read(serverNonce); err != nil {
			return nil, err
		}
	}
	params := pkinit.DHReplyParams{
		AuthPack:      ap,
		ClientPublic:  pub,
		Policy:        pkinit.AgreementPolicy{AllowGroup2: slices.Contains(k.cfg.DHGroups, pkinit.MODPGroup2)},
		KDFs:          k.cfg.KDFs,
		EType:         etype,
		KDFInputs:     in,
		ServerDHNonce: serverNonce,
		Identity:      k.replySigner(ap),
		Rand:          k.rand,
	}
	if k.cfg.DHKeyReuse > 0 {
		params.ServerKey, params.ServerKeyExpiration = k.reusableDHKey(pub)
	}
	reply, err := pkinit.BuildDHReply(params)
	if err != nil {
		return nil, reject(pkinit.ErrorCode(err), err, "key agreement")
	}
	return reply, nil
}

// replySigner is the KDC's signer with the digest the client asked for: the
// first of its supportedCMSTypes the KDC's key can make (RFC 4556 §3.2.1),
// so a client that refuses SHA-1 is not sent it; SHA-256 when it lists none.
func (k *KDC) replySigner(ap *pkinit.AuthPack) pkinit.KDCSigner {
	id := k.signer
	id.Options.Hash = ap.ReplyHash(id.Certificate.PublicKey, k.cfg.AllowSHA1)
	return id
}

func curveName(c pkinit.Curve) string {
	switch c {
	case pkinit.CurveP256:
		return "P-256"
	case pkinit.CurveP384:
		return "P-384"
	case pkinit.CurveP521:
		return "P-521"
	}
	return fmt.Sprintf("curve %d", c)
}

// dhParamsRejection is KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED with the
// groups the KDC does accept, so the client can retry (RFC 4556 §3.2.2). The
// e-text says the same in words, with the setting that makes Heimdal's client
// (which offers the 1024-bit group 2 and does not retry) choose group 14.
func (k *KDC) dhParamsRejection(err error) error {
	r := reject(krberror.DHKeyParametersNotAccepted, err, "%s", k.acceptedAgreements())
	params, perr := pkinit.DHParameters(k.cfg.DHGroups...)
	if perr == nil {
		if td, perr := pkinit.MarshalTDDHParameters(params); perr == nil {
			r.edata, _ = pkinit.MarshalTypedData([]pkinit.TypedData{{Type: pkinit.TDDHParameters, Value: td}})
		}
	}
	return r
}

// acceptedAgreements is the e-text of a refused key agreement: what this KDC
// accepts, and what to set on the client.
func (k *KDC) acceptedAgreements() string {
	var accepted []string
	minBits := 0
	for _, g := range k.cfg.DHGroups {
		bits := map[pkinit.Group]int{pkinit.MODPGroup2: 1024, pkinit.MODPGroup14: 2048, pkinit.MODPGroup16: 4096, pkinit.MODPGroup18: 8192}[g]
		accepted = append(accepted, fmt.Sprintf("MODP group %d (%d bits)", g, bits))
		if minBits == 0 || bits < minBits {
			minBits = bits
		}
	}
	for _, c := range k.cfg.Curves {
		accepted = append(accepted, "ECDH "+curveName(c))
	}
	text := "key-agreement parameters not accepted; this KDC accepts " + strings.Join(accepted, ", ")
	switch {
	case minBits == 2048:
		// Heimdal rates group 14 at 1760 bits and has no group 16.
		text += "; a Heimdal client needs pkinit_dh_min_bits = 1536 in [libdefaults], an MIT client pkinit_dh_min_bits = 2048"
	case minBits > 0:
		text += fmt.Sprintf("; set pkinit_dh_min_bits = %d in [libdefaults]", minBits)
	}
	return text
}
