package pkinit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// berNode is a value of a DER encoding, re-encoded in one of the other
// forms BER allows, to build what a streaming or hx509-style encoder sends.
type berNode struct {
	tag   byte
	prim  []byte     // contents of a primitive value
	kids  []*berNode // of a constructed one
	raw   []byte     // when set, emitted as is (certificates, signed attributes)
	indef bool       // indefinite length, with end-of-contents octets
	long  bool       // a longer length form than needed (82 00 nn)
	segs  int        // a primitive string emitted constructed, in this many segments
}

func parseDER(tb testing.TB, der []byte) *berNode {
	tb.Helper()
	in := cryptobyte.String(der)
	var c cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&c, &tag) || !in.Empty() {
		tb.Fatalf("not one DER value: %x", der)
	}
	n := &berNode{tag: byte(tag)}
	if tag&0x20 == 0 {
		n.prim = c
		return n
	}
	for !c.Empty() {
		var e cryptobyte.String
		if !c.ReadAnyASN1Element(&e, &tag) {
			tb.Fatal("bad DER")
		}
		n.kids = append(n.kids, parseDER(tb, e))
	}
	return n
}

func (n *berNode) at(path ...int) *berNode {
	for _, i := range path {
		n = n.kids[i]
	}
	return n
}

func (n *berNode) encode() []byte {
	if n.raw != nil {
		return n.raw
	}
	tag, contents := n.tag, n.prim
	switch {
	case n.kids != nil || n.tag&0x20 != 0:
		var b []byte
		for _, k := range n.kids {
			b = append(b, k.encode()...)
		}
		contents = b
	case n.segs > 0:
		tag |= 0x20
		var b []byte
		for i := range n.segs {
			part := contents[i*len(contents)/n.segs : (i+1)*len(contents)/n.segs]
			b = append(b, (&berNode{tag: 0x04, prim: part}).encode()...)
		}
		contents = b
	}
	switch {
	case n.indef:
		return append(append([]byte{tag, 0x80}, contents...), 0, 0)
	case n.long:
		return append([]byte{tag, 0x82, byte(len(contents) >> 8), byte(len(contents))}, contents...)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(tag), func(b *cryptobyte.Builder) { b.AddBytes(contents) })
	return b.BytesOrPanic()
}

// hx509Identifier turns a primitive [0] subjectKeyIdentifier into hx509's
// constructed [0] around an OCTET STRING.
func hx509Identifier(n *berNode) {
	n.kids, n.prim, n.tag = []*berNode{{tag: 0x04, prim: n.prim}}, nil, 0xa0
}

// signedDataVariants are BER encodings of a ContentInfo holding a
// SignedData made by SignData with SubjectKeyID and a chain.
func signedDataVariants(tb testing.TB, der []byte) map[string][]byte {
	// ContentInfo{oid, [0]{SignedData{version, digestAlgorithms,
	// eci{oid, [0]{OCTET STRING}}, [0]{certs…}, signerInfos{SignerInfo{
	// version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature}}}}}
	variant := func(edit func(root *berNode)) []byte {
		root := parseDER(tb, der)
		for _, c := range root.at(1, 0, 3).kids {
			c.raw = c.encode()
		}
		si := root.at(1, 0, 4, 0)
		si.kids[3].raw = si.kids[3].encode()
		edit(root)
		return root.encode()
	}
	indefinite := func(root *berNode) {
		for _, p := range [][]int{{}, {1}, {1, 0}, {1, 0, 2}, {1, 0, 2, 1}, {1, 0, 3}, {1, 0, 4}, {1, 0, 4, 0}} {
			root.at(p...).indef = true
		}
	}
	return map[string][]byte{
		"DER":                         variant(func(*berNode) {}),
		"hx509 subjectKeyIdentifier":  variant(func(r *berNode) { hx509Identifier(r.at(1, 0, 4, 0, 1)) }),
		"constructed eContent":        variant(func(r *berNode) { r.at(1, 0, 2, 1, 0).segs = 3 }),
		"constructed signature":       variant(func(r *berNode) { r.at(1, 0, 4, 0, 5).segs = 2 }),
		"indefinite lengths":          variant(indefinite),
		"long-form lengths":           variant(func(r *berNode) { r.at(1, 0).long, r.at(1, 0, 0).long, r.at(1, 0, 4, 0, 2).long = true, true, true }),
		"certificates in other order": variant(func(r *berNode) { slices.Reverse(r.at(1, 0, 3).kids) }),
		"unsignedAttrs": variant(func(r *berNode) {
			si := r.at(1, 0, 4, 0)
			si.kids = append(si.kids, parseDER(tb, []byte{0xa1, 0x0a, 0x30, 0x08, 0x06, 0x02, 0x2a, 0x03, 0x31, 0x02, 0x05, 0x00}))
		}),
		"all at once": variant(func(r *berNode) {
			indefinite(r)
			hx509Identifier(r.at(1, 0, 4, 0, 1))
			r.at(1, 0, 2, 1, 0).segs, r.at(1, 0, 4, 0, 5).segs = 4, 3
			r.at(1, 0, 2, 1, 0).indef = true
		}),
	}
}

// TestSignedDataBER: every BER form of one SignedData verifies to the same
// content, signer and digest as its DER form.
func TestSignedDataBER(t *testing.T) {
	f := fixtures(t)
	content := bytes.Repeat([]byte("KDCDHKeyInfo "), 20)
	der, err := SignData(content, ContentDHKeyData, f.kdc.key, f.kdc.cert, SignOptions{Rand: rand.Reader, SubjectKeyID: true, Chain: []*x509.Certificate{f.ecClient.cert}})
	if err != nil {
		t.Fatal(err)
	}
	for name, ber := range signedDataVariants(t, der) {
		t.Run(name, func(t *testing.T) {
			if name != "DER" && bytes.Equal(ber, der) {
				t.Fatal("variant is the DER encoding")
			}
			sc, err := VerifySignedData(ber, VerifyOptions{ContentType: ContentDHKeyData})
			if err != nil {
				t.Fatalf("%v\n%x", err, ber)
			}
			if !bytes.Equal(sc.Content, content) || !sc.Signer.Equal(f.kdc.cert) || sc.Hash != crypto.SHA256 || len(sc.Certificates) != 2 {
				t.Errorf("content %q, signer %v, hash %v, %d certificates", sc.Content, sc.Signer.Subject, sc.Hash, len(sc.Certificates))
			}
		})
	}
}

// TestSignedDataBERRejected: BER does not loosen what must hold.
func TestSignedDataBERRejected(t *testing.T) {
	f := fixtures(t)
	der, err := SignData([]byte("content"), ContentDHKeyData, f.kdc.key, f.kdc.cert, SignOptions{Rand: rand.Reader, SubjectKeyID: true})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(e func(root *berNode)) []byte {
		root := parseDER(t, der)
		e(root)
		return root.encode()
	}
	all := signedDataVariants(t, der)["all at once"]
	for name, tc := range map[string]struct {
		ber  []byte
		want error
	}{
		"trailing data after end-of-contents": {append(bytes.Clone(all), 0), ErrMalformed},
		"end-of-contents missing":             {all[:len(all)-2], ErrMalformed},
		"signedAttrs not DER":                 {edit(func(r *berNode) { r.at(1, 0, 4, 0, 3).indef = true }), ErrMalformed},
		"a segment altered": {edit(func(r *berNode) {
			n := r.at(1, 0, 2, 1, 0)
			n.prim, n.segs = append(bytes.Clone(n.prim[:len(n.prim)-1]), n.prim[len(n.prim)-1]^1), 2
		}), ErrBadSignature},
		"primitive with indefinite length": {edit(func(r *berNode) { r.at(1, 0, 0).indef = true }), ErrMalformed},
		"segment of another type": {edit(func(r *berNode) {
			r.at(1, 0, 2, 1).kids[0] = &berNode{tag: 0x24, kids: []*berNode{{tag: 0x0c, prim: []byte("content")}}}
		}), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifySignedData(tc.ber, VerifyOptions{}); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// envelopedDataVariants are BER encodings of an EnvelopedData made by
// EnvelopeData, for a recipient with a subject key identifier.
func envelopedDataVariants(tb testing.TB, der []byte, ski []byte) map[string][]byte {
	// ContentInfo{oid, [0]{EnvelopedData{version, recipientInfos{ktri{
	// version, rid, keyEncryptionAlgorithm, encryptedKey}},
	// eci{oid, alg{oid, iv}, [0] ciphertext}}}}
	variant := func(edit func(root *berNode)) []byte {
		root := parseDER(tb, der)
		edit(root)
		return root.encode()
	}
	return map[string][]byte{
		"DER recipient by subjectKeyIdentifier":   variant(func(r *berNode) { *r.at(1, 0, 1, 0, 1) = berNode{tag: 0x80, prim: ski} }),
		"hx509 recipient by subjectKeyIdentifier": variant(func(r *berNode) { *r.at(1, 0, 1, 0, 1) = berNode{tag: 0xa0, kids: []*berNode{{tag: 0x04, prim: ski}}} }),
		"all at once": variant(func(r *berNode) {
			for _, p := range [][]int{{}, {1}, {1, 0}, {1, 0, 1}, {1, 0, 1, 0}, {1, 0, 2}, {1, 0, 2, 1}} {
				r.at(p...).indef = true
			}
			r.at(1, 0, 2, 2).segs, r.at(1, 0, 2, 1, 1).segs, r.at(1, 0, 1, 0, 3).segs = 3, 2, 2
			r.at(1, 0, 0).long = true
		}),
	}
}

// TestEnvelopedDataBER: every BER form opens to the same plaintext.
func TestEnvelopedDataBER(t *testing.T) {
	f := fixtures(t)
	content := bytes.Repeat([]byte("a SignedData "), 10)
	der, err := EnvelopeData(content, f.client.cert, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, ber := range envelopedDataVariants(t, der, f.client.cert.SubjectKeyId) {
		t.Run(name, func(t *testing.T) {
			_, got, err := OpenEnvelopedData(ber, f.client.cert, f.client.key.(*rsa.PrivateKey), rand.Reader)
			if err != nil {
				t.Fatalf("%v\n%x", err, ber)
			}
			if !bytes.Equal(got, content) {
				t.Errorf("plaintext %q", got)
			}
		})
	}
}

// FuzzBER: the reader never panics, and a string read in either form is
// the contents of the segments it found.
func FuzzBER(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := berString(b)
		var out []byte
		s.readOctetString(&out, cbasn1.OCTET_STRING)
		s = berString(b)
		for !s.empty() {
			var tag cbasn1.Tag
			var elem, contents berString
			if !s.readAny(&elem, &contents, &tag) {
				break
			}
			if len(contents) > len(elem) {
				t.Fatalf("contents longer than the element")
			}
		}
	})
}
