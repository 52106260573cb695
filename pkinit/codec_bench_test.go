package pkinit

import (
	"crypto/x509"
	"testing"
)

// The KDC's share of the wire work in one exchange, each next to the
// encoding/asn1 or nested-builder code it replaced (the "ref" halves):
//
//	go test -run '^$' -bench 'AuthPackDecode|PKASReqDecode|ReplyEncode|SignDataEncode' -benchmem -cpu 1 ./pkinit

// BenchmarkAuthPackDecode reads an AuthPack as MIT's kinit sends it: ECDH
// P-256, four supportedCMSTypes, three KDFs, a freshness token.
func BenchmarkAuthPackDecode(b *testing.B) {
	der, err := authPackShapes(b)[0].Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name  string
		parse func([]byte) (*AuthPack, error)
	}{{"new", ParseAuthPack}, {"ref", parseAuthPackRef}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPKASReqDecode reads the PA-PK-AS-REQ around that AuthPack.
func BenchmarkPKASReqDecode(b *testing.B) {
	reqs, _ := requestVectors(b)
	der := reqs[2]
	for _, p := range []struct {
		name  string
		parse func([]byte) (*PKASReq, error)
	}{{"new", ParsePKASReq}, {"ref", parsePKASReqRef}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.parse(der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReplyEncode writes what a DH reply and a key-transport reply
// encode besides the SignedData: a KDCDHKeyInfo, a 2.5 KB PA-PK-AS-REP with
// a KDF, and a ReplyKeyPack.
func BenchmarkReplyEncode(b *testing.B) {
	info := &KDCDHKeyInfo{SubjectPublicKey: make([]byte, 65), Nonce: 0xfedcba98}
	rep := &PKASRep{DHInfo: &DHRepInfo{DHSignedData: make([]byte, 2500), KDF: KDFSHA256}}
	pack := &ReplyKeyPack{ReplyKey: EncryptionKey{18, make([]byte, 32)}, ASChecksum: Checksum{16, make([]byte, 12)}}
	for _, e := range []struct {
		name               string
		info, rep, keyPack func() ([]byte, error)
	}{
		{"new", info.Marshal, rep.Marshal, pack.Marshal},
		{"ref", func() ([]byte, error) { return marshalKDCDHKeyInfoRef(info) },
			func() ([]byte, error) { return marshalPKASRepRef(rep) },
			func() ([]byte, error) { return marshalReplyKeyPackRef(pack) }},
	} {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, m := range []func() ([]byte, error){e.info, e.rep, e.keyPack} {
					if _, err := m(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkSignDataEncode is SignData without the cost of a signature (the
// digestSigner): the KDC's P-256 reply signature over a KDCDHKeyInfo, its
// certificate and one CA certificate embedded.
func BenchmarkSignDataEncode(b *testing.B) {
	f := fixtures(b)
	signer := digestSigner{f.ecClient.key.Public()}
	content := make([]byte, 110)
	opts := SignOptions{Chain: []*x509.Certificate{f.kdc.cert}}
	for _, s := range []struct {
		name string
		sign func([]byte, ContentType, *x509.Certificate, SignOptions) ([]byte, error)
	}{
		{"new", func(c []byte, ct ContentType, cert *x509.Certificate, o SignOptions) ([]byte, error) {
			return SignData(c, ct, signer, cert, o)
		}},
		{"ref", func(c []byte, ct ContentType, cert *x509.Certificate, o SignOptions) ([]byte, error) {
			return signDataRef(c, ct, signer, cert, o)
		}},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.sign(content, ContentDHKeyData, f.ecClient.cert, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
