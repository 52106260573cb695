package pkinit

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/internal/der"
)

// KRB5PrincipalName is a Kerberos principal with its realm, RFC 4556 §3.2.2.
// It is the partyUInfo / partyVInfo of the RFC 8636 KDF; the certs package
// reads it out of certificates (id-pkinit-san).
type KRB5PrincipalName struct {
	NameType int32 // name-type, RFC 4120 §6.2 (1 = NT-PRINCIPAL, 2 = NT-SRV-INST)
	Name     []string
	Realm    string
}

// Marshal returns the DER encoding. encoding/asn1 cannot write GeneralString
// (KerberosString, RFC 4120 §5.2.1), so this is built by hand, sized first
// and written once.
func (p KRB5PrincipalName) Marshal() ([]byte, error) {
	return p.appendTo(make([]byte, 0, p.size())), nil
}

// Sizes of the nested elements of a KRB5PrincipalName (RFC 4556 §3.2.2):
// SEQUENCE { [0] realm, [1] PrincipalName SEQUENCE { [0] name-type,
// [1] SEQUENCE OF name-string } }.
func (p KRB5PrincipalName) sizes() (names, principal, all int) {
	for _, n := range p.Name {
		names += der.Size(len(n))
	}
	principal = der.ExplicitSize(der.IntSize(int64(p.NameType))) + der.Size(der.Size(names))
	all = der.ExplicitSize(len(p.Realm)) + der.Size(der.Size(principal))
	return names, principal, all
}

// size is the length of the DER encoding.
func (p KRB5PrincipalName) size() int {
	_, _, all := p.sizes()
	return der.Size(all)
}

// appendTo appends the DER encoding.
func (p KRB5PrincipalName) appendTo(b []byte) []byte {
	names, principal, all := p.sizes()
	gs := cbasn1.Tag(asn1.TagGeneralString)
	b = der.AppendHeader(b, cbasn1.SEQUENCE, all)
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(len(p.Realm)))
	b = append(der.AppendHeader(b, gs, len(p.Realm)), p.Realm...)
	b = der.AppendHeader(b, tagCtx1Cons, der.Size(principal))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, principal)
	b = der.AppendHeader(b, tagCtx0Cons, der.Size(der.IntSize(int64(p.NameType))))
	b = der.AppendInt(b, int64(p.NameType))
	b = der.AppendHeader(b, tagCtx1Cons, der.Size(names))
	b = der.AppendHeader(b, cbasn1.SEQUENCE, names)
	for _, n := range p.Name {
		b = append(der.AppendHeader(b, gs, len(n)), n...)
	}
	return b
}

// ParseKRB5PrincipalName decodes a DER KRB5PrincipalName.
func ParseKRB5PrincipalName(b []byte) (KRB5PrincipalName, error) {
	in := cryptobyte.String(b)
	var seq, realmT, realm, pnT, pn, ntT, namesT, names cryptobyte.String
	var nt int32
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&realmT, tagCtx0Cons) || !realmT.ReadASN1(&realm, cbasn1.Tag(asn1.TagGeneralString)) || !realmT.Empty() ||
		!seq.ReadASN1(&pnT, tagCtx1Cons) || !seq.Empty() || !pnT.ReadASN1(&pn, cbasn1.SEQUENCE) || !pnT.Empty() ||
		!pn.ReadASN1(&ntT, tagCtx0Cons) || !ntT.ReadASN1Integer(&nt) || !ntT.Empty() ||
		!pn.ReadASN1(&namesT, tagCtx1Cons) || !pn.Empty() || !namesT.ReadASN1(&names, cbasn1.SEQUENCE) || !namesT.Empty() {
		return KRB5PrincipalName{}, malformed("KRB5PrincipalName", errTrailingOr(in))
	}
	p := KRB5PrincipalName{NameType: nt}
	var err error
	if p.Realm, err = kerberosString(realm); err != nil {
		return KRB5PrincipalName{}, err
	}
	for !names.Empty() {
		var n cryptobyte.String
		if !names.ReadASN1(&n, cbasn1.Tag(asn1.TagGeneralString)) {
			return KRB5PrincipalName{}, malformed("KRB5PrincipalName name-string", nil)
		}
		s, err := kerberosString(n)
		if err != nil {
			return KRB5PrincipalName{}, err
		}
		p.Name = append(p.Name, s)
	}
	return p, nil
}

func kerberosString(b []byte) (string, error) {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", malformed("KerberosString", errors.New("not printable ASCII"))
		}
	}
	return string(b), nil
}

// ExternalPrincipalIdentifier names a certificate or CA, RFC 4556 §3.2.1.
// Each field holds DER: a Name, an IssuerAndSerialNumber, a SubjectKeyIdentifier.
type ExternalPrincipalIdentifier struct {
	SubjectName           []byte
	IssuerAndSerialNumber []byte
	SubjectKeyIdentifier  []byte
}

type externalPrincipalIdentifierDER struct {
	SubjectName           []byte `asn1:"optional,tag:0"`
	IssuerAndSerialNumber []byte `asn1:"optional,tag:1"`
	SubjectKeyIdentifier  []byte `asn1:"optional,tag:2"`
}

func toEPIDER(in []ExternalPrincipalIdentifier) []externalPrincipalIdentifierDER {
	if in == nil {
		return nil
	}
	out := make([]externalPrincipalIdentifierDER, len(in))
	for i, e := range in {
		out[i] = externalPrincipalIdentifierDER(e)
	}
	return out
}

func fromEPIDER(in []externalPrincipalIdentifierDER) []ExternalPrincipalIdentifier {
	if in == nil {
		return nil
	}
	out := make([]ExternalPrincipalIdentifier, len(in))
	for i, e := range in {
		out[i] = ExternalPrincipalIdentifier(e)
	}
	return out
}

// PKASReq is the padata-value of PA_PK_AS_REQ, RFC 4556 §3.2.1.
type PKASReq struct {
	SignedAuthPack    []byte // a ContentInfo holding SignedData over an AuthPack
	TrustedCertifiers []ExternalPrincipalIdentifier
	KDCPkID           []byte // DER SignerIdentifier of the KDC the client expects
	Raw               []byte // set by ParsePKASReq
}

type paPKASReqDER struct {
	SignedAuthPack    []byte                           `asn1:"tag:0"`
	TrustedCertifiers []externalPrincipalIdentifierDER `asn1:"optional,explicit,tag:1"`
	KDCPkID           []byte                           `asn1:"optional,tag:2"`
}

// Marshal returns the DER encoding.
func (r *PKASReq) Marshal() ([]byte, error) {
	return marshal(paPKASReqDER{r.SignedAuthPack, toEPIDER(r.TrustedCertifiers), r.KDCPkID}, "PA-PK-AS-REQ")
}

// PAChecksum2 is the algorithm-agile request checksum, RFC 8636 §4.
type PAChecksum2 struct {
	Checksum  []byte
	Algorithm pkix.AlgorithmIdentifier
}

type paChecksum2DER struct {
	Checksum  []byte                   `asn1:"explicit,tag:0"`
	Algorithm pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
}

// PKAuthenticator binds the signed AuthPack to one request, RFC 4556 §3.2.1,
// with the additions of RFC 8070 §4 (freshnessToken) and RFC 8636 §4 (paChecksum2).
type PKAuthenticator struct {
	Cusec          int       // microseconds of CTime, 0..999999
	CTime          time.Time // client time, whole seconds, UTC
	Nonce          uint32    // the nonce of the KDC-REQ-BODY
	PAChecksum     []byte    // SHA-1 of the DER KDC-REQ-BODY; see [PAChecksum]
	FreshnessToken []byte    // from the KDC's PA_AS_FRESHNESS, RFC 8070
	PAChecksum2    *PAChecksum2
}

type pkAuthenticatorDER struct {
	Cusec          int32          `asn1:"explicit,tag:0"`
	CTime          time.Time      `asn1:"generalized,explicit,tag:1"`
	Nonce          int64          `asn1:"explicit,tag:2"`
	PAChecksum     []byte         `asn1:"optional,explicit,tag:3"`
	FreshnessToken []byte         `asn1:"optional,explicit,tag:4"`
	PAChecksum2    paChecksum2DER `asn1:"optional,explicit,tag:5"`
}

// KDFAlgorithmId ::= SEQUENCE { kdf-id [0] OBJECT IDENTIFIER, ... }, RFC 8636 §3.
type kdfAlgorithmIDDER struct {
	KDFID asn1.ObjectIdentifier `asn1:"explicit,tag:0"`
}

// AuthPack is the content the client signs, RFC 4556 §3.2.1 and RFC 8636 §3.
type AuthPack struct {
	PKAuthenticator PKAuthenticator
	// ClientPublicValue is a DER SubjectPublicKeyInfo (DH or EC) for key
	// agreement, nil for RSA key transport. See [DHKey.PublicKeyInfo] and
	// [ParseClientPublicValue].
	ClientPublicValue []byte
	SupportedCMSTypes []pkix.AlgorithmIdentifier
	ClientDHNonce     []byte
	// SupportedKDFs lists the client's RFC 8636 KDFs in preference order;
	// empty means the RFC 4556 octetstring2key. See [AuthPack.SelectKDF].
	SupportedKDFs []KDF
	Raw           []byte // set by ParseAuthPack: the signed eContent
}

type authPackDER struct {
	PKAuthenticator   pkAuthenticatorDER         `asn1:"explicit,tag:0"`
	ClientPublicValue subjectPublicKeyInfo       `asn1:"optional,explicit,tag:1"`
	SupportedCMSTypes []pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:2"`
	ClientDHNonce     []byte                     `asn1:"optional,explicit,tag:3"`
	SupportedKDFs     []kdfAlgorithmIDDER        `asn1:"optional,explicit,tag:4"`
}

// Marshal returns the DER encoding.
func (a *AuthPack) Marshal() ([]byte, error) {
	p := a.PKAuthenticator
	if p.Cusec < 0 || p.Cusec > 999999 {
		return nil, malformed("PKAuthenticator", errors.New("cusec out of range"))
	}
	d := authPackDER{
		PKAuthenticator: pkAuthenticatorDER{
			Cusec:          int32(p.Cusec),
			CTime:          p.CTime.UTC().Truncate(time.Second),
			Nonce:          int64(p.Nonce),
			PAChecksum:     p.PAChecksum,
			FreshnessToken: p.FreshnessToken,
		},
		SupportedCMSTypes: a.SupportedCMSTypes,
		ClientDHNonce:     a.ClientDHNonce,
	}
	if p.PAChecksum2 != nil {
		d.PKAuthenticator.PAChecksum2 = paChecksum2DER(*p.PAChecksum2)
	}
	if a.ClientPublicValue != nil {
		if err := unmarshal(a.ClientPublicValue, &d.ClientPublicValue, "clientPublicValue"); err != nil {
			return nil, err
		}
	}
	for _, k := range a.SupportedKDFs {
		oid := k.oid()
		if oid == nil {
			return nil, fmt.Errorf("%w: %v has no KDF identifier", ErrNoAcceptableKDF, k)
		}
		d.SupportedKDFs = append(d.SupportedKDFs, kdfAlgorithmIDDER{oid})
	}
	return marshal(d, "AuthPack")
}

// PKASRep is the padata-value of PA_PK_AS_REP, RFC 4556 §3.2.3: exactly one
// of DHInfo and EncKeyPack is set.
type PKASRep struct {
	DHInfo     *DHRepInfo
	EncKeyPack []byte // ContentInfo holding EnvelopedData; see [OpenEnvelopedData]
	Raw        []byte // set by ParsePKASRep; the RFC 8636 KDF input
}

// DHRepInfo carries the KDC's signed DH value, RFC 4556 §3.2.3.1 and RFC 8636 §3.
type DHRepInfo struct {
	DHSignedData  []byte // ContentInfo holding SignedData over a KDCDHKeyInfo
	ServerDHNonce []byte
	KDF           KDF // zero when the KDC used octetstring2key
}

type dhRepInfoDER struct {
	DHSignedData  []byte            `asn1:"tag:0"`
	ServerDHNonce []byte            `asn1:"optional,explicit,tag:1"`
	KDF           kdfAlgorithmIDDER `asn1:"optional,explicit,tag:2"`
}

// ParsePKASRep decodes a PA-PK-AS-REP.
func ParsePKASRep(b []byte) (*PKASRep, error) {
	var raw asn1.RawValue
	if err := unmarshal(b, &raw, "PA-PK-AS-REP"); err != nil {
		return nil, err
	}
	if raw.Class != asn1.ClassContextSpecific {
		return nil, malformed("PA-PK-AS-REP", errors.New("not a context-specific choice"))
	}
	switch {
	case raw.Tag == 0 && raw.IsCompound:
		var d dhRepInfoDER
		if err := unmarshal(raw.Bytes, &d, "DHRepInfo"); err != nil {
			return nil, err
		}
		info := &DHRepInfo{DHSignedData: d.DHSignedData, ServerDHNonce: d.ServerDHNonce}
		if d.KDF.KDFID != nil {
			if info.KDF = kdfOf(d.KDF.KDFID); info.KDF == 0 {
				return nil, fmt.Errorf("%w: KDC chose %v", ErrNoAcceptableKDF, d.KDF.KDFID)
			}
		}
		return &PKASRep{DHInfo: info, Raw: b}, nil
	case raw.Tag == 1 && !raw.IsCompound:
		return &PKASRep{EncKeyPack: raw.Bytes, Raw: b}, nil
	}
	return nil, malformed("PA-PK-AS-REP", fmt.Errorf("unknown choice [%d]", raw.Tag))
}

// KDCDHKeyInfo is the KDC's signed key-agreement value, RFC 4556 §3.2.3.1.
type KDCDHKeyInfo struct {
	// SubjectPublicKey is the KDC's public value: a DER INTEGER for DH, an
	// uncompressed ECPoint for ECDH (RFC 5349 §4).
	SubjectPublicKey []byte
	Nonce            uint32    // the nonce of the client's PKAuthenticator
	DHKeyExpiration  time.Time // zero when absent
	Raw              []byte    // set by ParseKDCDHKeyInfo
}

type kdcDHKeyInfoDER struct {
	SubjectPublicKey asn1.BitString `asn1:"explicit,tag:0"`
	Nonce            int64          `asn1:"explicit,tag:1"`
	DHKeyExpiration  time.Time      `asn1:"optional,generalized,explicit,tag:2"`
}

// ParseKDCDHKeyInfo decodes a KDCDHKeyInfo, the eContent of the KDC's SignedData.
func ParseKDCDHKeyInfo(b []byte) (*KDCDHKeyInfo, error) {
	var d kdcDHKeyInfoDER
	if err := unmarshal(b, &d, "KDCDHKeyInfo"); err != nil {
		return nil, err
	}
	if d.SubjectPublicKey.BitLength%8 != 0 {
		return nil, malformed("KDCDHKeyInfo", errors.New("subjectPublicKey is not whole octets"))
	}
	if d.Nonce < 0 || d.Nonce > 0xffffffff {
		return nil, malformed("KDCDHKeyInfo", errors.New("nonce out of range"))
	}
	k := &KDCDHKeyInfo{SubjectPublicKey: d.SubjectPublicKey.Bytes, Nonce: uint32(d.Nonce), Raw: b}
	if !d.DHKeyExpiration.IsZero() {
		k.DHKeyExpiration = d.DHKeyExpiration.UTC()
	}
	return k, nil
}

// EncryptionKey is a Kerberos key, RFC 4120 §5.2.9.
type EncryptionKey struct {
	KeyType  int32
	KeyValue []byte
}

// Checksum is a Kerberos checksum, RFC 4120 §5.2.9.
type Checksum struct {
	CksumType int32
	Checksum  []byte
}

type encryptionKeyDER struct {
	KeyType  int32  `asn1:"explicit,tag:0"`
	KeyValue []byte `asn1:"explicit,tag:1"`
}

type checksumDER struct {
	CksumType int32  `asn1:"explicit,tag:0"`
	Checksum  []byte `asn1:"explicit,tag:1"`
}

// ReplyKeyPack carries the reply key for RSA key transport, RFC 4556 §3.2.3.2.
type ReplyKeyPack struct {
	ReplyKey   EncryptionKey
	ASChecksum Checksum // see [ASChecksum]
	Raw        []byte   // set by ParseReplyKeyPack
}

type replyKeyPackDER struct {
	ReplyKey   encryptionKeyDER `asn1:"explicit,tag:0"`
	ASChecksum checksumDER      `asn1:"explicit,tag:1"`
}

// ParseReplyKeyPack decodes a ReplyKeyPack.
func ParseReplyKeyPack(b []byte) (*ReplyKeyPack, error) {
	var d replyKeyPackDER
	if err := unmarshal(b, &d, "ReplyKeyPack"); err != nil {
		return nil, err
	}
	return &ReplyKeyPack{EncryptionKey(d.ReplyKey), Checksum(d.ASChecksum), b}, nil
}

// TypedData is one element of the TYPED-DATA a KRB-ERROR carries in e-data,
// RFC 4120 §5.9.1; PKINIT errors use it as RFC 4556 §3.2.2 says.
type TypedData struct {
	Type  TDType
	Value []byte
}

type typedDataDER struct {
	Type  int32  `asn1:"explicit,tag:0"`
	Value []byte `asn1:"optional,explicit,tag:1"`
}

// MarshalTypedData encodes a TYPED-DATA sequence.
func MarshalTypedData(td []TypedData) ([]byte, error) {
	if len(td) == 0 {
		return nil, malformed("TYPED-DATA", errors.New("empty"))
	}
	d := make([]typedDataDER, len(td))
	for i, t := range td {
		d[i] = typedDataDER{int32(t.Type), t.Value}
	}
	return marshal(d, "TYPED-DATA")
}

// ParseTypedData decodes a TYPED-DATA sequence.
func ParseTypedData(b []byte) ([]TypedData, error) {
	var d []typedDataDER
	if err := unmarshal(b, &d, "TYPED-DATA"); err != nil {
		return nil, err
	}
	if len(d) == 0 {
		return nil, malformed("TYPED-DATA", errors.New("empty"))
	}
	out := make([]TypedData, len(d))
	for i, t := range d {
		out[i] = TypedData{TDType(t.Type), t.Value}
	}
	return out, nil
}

// KerbErrorData is the KERB-ERROR-DATA Windows puts in e-data, MS-KILE §2.2.1.
type KerbErrorData struct {
	Type  int32
	Value []byte
}

type kerbErrorDataDER struct {
	Type  int32  `asn1:"explicit,tag:1"`
	Value []byte `asn1:"optional,explicit,tag:2"`
}

// Marshal returns the DER encoding.
func (k KerbErrorData) Marshal() ([]byte, error) {
	return marshal(kerbErrorDataDER(k), "KERB-ERROR-DATA")
}

// ParseKerbErrorData decodes a KERB-ERROR-DATA.
func ParseKerbErrorData(b []byte) (KerbErrorData, error) {
	var d kerbErrorDataDER
	if err := unmarshal(b, &d, "KERB-ERROR-DATA"); err != nil {
		return KerbErrorData{}, err
	}
	return KerbErrorData(d), nil
}

// MarshalTDDHParameters encodes TD-DH-PARAMETERS, the DH domain parameters the
// KDC accepts, in its order of preference, RFC 4556 §3.2.2.
func MarshalTDDHParameters(params []pkix.AlgorithmIdentifier) ([]byte, error) {
	return marshal(params, "TD-DH-PARAMETERS")
}

// ParseTDDHParameters decodes TD-DH-PARAMETERS.
func ParseTDDHParameters(b []byte) ([]pkix.AlgorithmIdentifier, error) {
	var d []pkix.AlgorithmIdentifier
	if err := unmarshal(b, &d, "TD-DH-PARAMETERS"); err != nil {
		return nil, err
	}
	return d, nil
}

// MarshalExternalPrincipalIdentifiers encodes TD-TRUSTED-CERTIFIERS or
// TD-INVALID-CERTIFICATES, RFC 4556 §3.2.2.
func MarshalExternalPrincipalIdentifiers(ids []ExternalPrincipalIdentifier) ([]byte, error) {
	d := toEPIDER(ids)
	if d == nil {
		d = []externalPrincipalIdentifierDER{}
	}
	return marshal(d, "ExternalPrincipalIdentifiers")
}

// ParseExternalPrincipalIdentifiers decodes TD-TRUSTED-CERTIFIERS or
// TD-INVALID-CERTIFICATES.
func ParseExternalPrincipalIdentifiers(b []byte) ([]ExternalPrincipalIdentifier, error) {
	var d []externalPrincipalIdentifierDER
	if err := unmarshal(b, &d, "ExternalPrincipalIdentifiers"); err != nil {
		return nil, err
	}
	return fromEPIDER(d), nil
}
