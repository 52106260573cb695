package kinit_test

import (
	"crypto"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krb5conf"
	"github.com/sclogon/sclogon/pkinit"
)

// TestKDCReplySignedWithSHA1: a proxy re-signs MIT's key-transport reply
// with SHA-1 and the KDC's key, as a Heimdal or Samba KDC signs for a client
// that sends no supportedCMSTypes. The client refuses it with
// pkinit.ErrSHA1Signature, and takes it with Policy.AllowSHA1.
func TestKDCReplySignedWithSHA1(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t)
	req.KeyExchange = kinit.KeyExchange{RSA: true}
	proxy := startProxy(t, kdc.Addr, func(reply []byte) []byte { return resignSHA1(t, p, req.Identity, reply) })
	req.KDCs = []transport.KDC{{Addr: proxy, Network: "tcp"}}

	_, err := run(t, newClient(t), req)
	if !errors.Is(err, pkinit.ErrSHA1Signature) || !strings.Contains(err.Error(), "sha1") {
		t.Fatalf("got %v, want pkinit.ErrSHA1Signature naming the algorithm", err)
	}
	t.Logf("refused: %v", err)
	req.Policy.AllowSHA1 = true
	res, err := run(t, newClient(t), req)
	if err != nil {
		t.Fatalf("with AllowSHA1: %v", err)
	}
	if !res.KDCCertificate.Equal(p.kdcCert) {
		t.Errorf("KDC certificate %v", res.KDCCertificate.Subject)
	}
}

// resignSHA1 replaces the encKeyPack of an AS-REP with one whose
// ReplyKeyPack is signed with SHA-1 by the same KDC key.
func resignSHA1(t *testing.T, p *testPKI, alice kinit.Identity, reply []byte) []byte {
	var rep messages.ASRep
	if rep.Unmarshal(reply) != nil {
		return reply // the KRB-ERROR asking for pre-authentication
	}
	for _, pa := range rep.PAData {
		if pa.PADataType != int32(pkinit.PAPKASRep) {
			continue
		}
		parsed, err := pkinit.ParsePKASRep(pa.PADataValue)
		if err != nil || parsed.EncKeyPack == nil {
			t.Errorf("proxy: PA-PK-AS-REP: %v", err)
			return reply
		}
		dec, _ := alice.Decrypter()
		_, inner, err := pkinit.OpenEnvelopedData(parsed.EncKeyPack, alice.Certificate(), dec, rand.Reader)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return reply
		}
		sc, err := pkinit.VerifySignedData(inner, pkinit.VerifyOptions{ContentType: pkinit.ContentRKeyData})
		if err != nil {
			t.Errorf("proxy: %v", err)
			return reply
		}
		signed, err := pkinit.SignData(sc.Content, pkinit.ContentRKeyData, p.kdcKey, p.kdcCert, pkinit.SignOptions{Hash: crypto.SHA1, Rand: rand.Reader})
		if err != nil {
			t.Errorf("proxy: %v", err)
			return reply
		}
		// encKeyPack carries the bare SignedData, RFC 4556 §3.2.3.2.
		ci := cryptobyte.String(signed)
		var seq, content, bare cryptobyte.String
		if !ci.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
			!seq.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) || !content.ReadASN1Element(&bare, cbasn1.SEQUENCE) {
			t.Error("proxy: our own ContentInfo does not parse")
			return reply
		}
		env, err := pkinit.EnvelopeData(bare, alice.Certificate(), rand.Reader)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return reply
		}
		value, err := (&pkinit.PKASRep{EncKeyPack: env}).Marshal()
		if err != nil {
			t.Errorf("proxy: %v", err)
			return reply
		}
		return replacePAData(t, reply, int64(pkinit.PAPKASRep), value)
	}
	return reply
}

// replacePAData re-encodes an AS-REP (RFC 4120 §5.4.2) with the value of
// one padata type replaced; padata is not covered by any checksum.
func replacePAData(t *testing.T, reply []byte, typ int64, value []byte) []byte {
	ctx := func(n uint8) cbasn1.Tag { return cbasn1.Tag(n).ContextSpecific().Constructed() }
	in := cryptobyte.String(reply)
	var app, rep cryptobyte.String
	if !in.ReadASN1(&app, cbasn1.Tag(0x6b)) || !app.ReadASN1(&rep, cbasn1.SEQUENCE) {
		t.Error("proxy: not an AS-REP")
		return reply
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(0x6b), func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for !rep.Empty() {
				var elem, padata, seq cryptobyte.String
				var tag cbasn1.Tag
				rep.ReadAnyASN1Element(&elem, &tag)
				if tag != ctx(2) {
					b.AddBytes(elem)
					continue
				}
				elem.ReadASN1(&padata, ctx(2))
				padata.ReadASN1(&seq, cbasn1.SEQUENCE)
				b.AddASN1(ctx(2), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for !seq.Empty() {
							var pa, body, typT cryptobyte.String
							var n int64
							seq.ReadASN1Element(&pa, cbasn1.SEQUENCE)
							body = pa
							body.ReadASN1(&body, cbasn1.SEQUENCE)
							body.ReadASN1(&typT, ctx(1))
							typT.ReadASN1Integer(&n)
							if n != typ {
								b.AddBytes(pa)
								continue
							}
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1(ctx(1), func(b *cryptobyte.Builder) { b.AddASN1Int64(n) })
								b.AddASN1(ctx(2), func(b *cryptobyte.Builder) { b.AddASN1OctetString(value) })
							})
						}
					})
				})
			}
		})
	})
	out, err := b.Bytes()
	if err != nil {
		t.Errorf("proxy: %v", err)
		return reply
	}
	return out
}

// TestPolicyAllowSHA1: pkinit_allow_sha1 is read like the other pkinit_*
// options: [realms] REALM, then [libdefaults]; false by default.
func TestPolicyAllowSHA1(t *testing.T) {
	for text, want := range map[string]bool{
		"": false,
		"[libdefaults]\n pkinit_allow_sha1 = true\n":                                                              true,
		"[realms]\n EXAMPLE.COM = {\n  pkinit_allow_sha1 = yes\n }\n":                                             true,
		"[realms]\n OTHER.ORG = {\n  pkinit_allow_sha1 = yes\n }\n":                                               false,
		"[libdefaults]\n pkinit_allow_sha1 = true\n[realms]\n EXAMPLE.COM = {\n  pkinit_allow_sha1 = false\n }\n": false,
	} {
		conf, err := krb5conf.Parse(strings.NewReader(text), "krb5.conf")
		if err != nil {
			t.Fatal(err)
		}
		pol, err := kinit.PolicyFromConfig(conf, realm)
		if err != nil || pol.AllowSHA1 != want {
			t.Errorf("%q: AllowSHA1 %v, %v; want %v", text, pol.AllowSHA1, err, want)
		}
	}
}
