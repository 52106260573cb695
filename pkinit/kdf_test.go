package pkinit

import (
	"bufio"
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func readVector(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	if s == "-" {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func principal(s string) KRB5PrincipalName {
	name, realm, _ := strings.Cut(s, "@")
	return KRB5PrincipalName{NameType: 1, Name: strings.Split(name, "/"), Realm: realm}
}

func TestRFC8636KDFVectors(t *testing.T) {
	files, _ := filepath.Glob("testdata/rfc8636-kdf-*.txt")
	if len(files) != 3 {
		t.Fatalf("want 3 RFC 8636 vector files, got %v", files)
	}
	kdfs := map[string]KDF{"sha1": KDFSHA1, "sha256": KDFSHA256, "sha512": KDFSHA512}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			v := readVector(t, file)
			zlen, _ := strconv.Atoi(v["z-len"])
			etype, _ := strconv.Atoi(v["enctype"])
			key, err := DeriveKey(make([]byte, zlen), KDFParams{
				KDF:     kdfs[v["kdf"]],
				EType:   int32(etype),
				Client:  principal(v["client"]),
				KDC:     principal(v["server"]),
				ASReq:   unhex(t, v["as-req"]),
				PKASRep: unhex(t, v["pk-as-rep"]),
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, v["key"]); !bytes.Equal(key.KeyValue, want) {
				t.Errorf("key = %x, want %x", key.KeyValue, want)
			}
		})
	}
}

func TestOctetString2KeyVectors(t *testing.T) {
	data, err := os.ReadFile("testdata/octetstring2key-openssl.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || strings.HasPrefix(f[0], "#") {
			continue
		}
		n++
		etype, _ := strconv.Atoi(f[3])
		key, err := OctetString2Key(unhex(t, f[0]), unhex(t, f[1]), unhex(t, f[2]), int32(etype))
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, f[4]); !bytes.Equal(key.KeyValue, want) {
			t.Errorf("line %d: key = %x, want %x", n, key.KeyValue, want)
		}
	}
	if n < 5 {
		t.Fatalf("only %d vectors", n)
	}
}

func TestKeySizes(t *testing.T) {
	for _, tc := range []struct {
		etype int32
		size  int
	}{{17, 16}, {18, 32}, {19, 16}, {20, 32}, {23, 16}} {
		k, err := OctetString2Key([]byte{1, 2, 3}, nil, nil, tc.etype)
		if err != nil || len(k.KeyValue) != tc.size {
			t.Errorf("etype %d: %d bytes, %v; want %d", tc.etype, len(k.KeyValue), err, tc.size)
		}
		k, err = DeriveKey([]byte{1, 2, 3}, KDFParams{KDF: KDFSHA256, EType: tc.etype, Client: principal("a@R"), KDC: principal("krbtgt/R@R")})
		if err != nil || len(k.KeyValue) != tc.size {
			t.Errorf("etype %d: %d bytes, %v; want %d", tc.etype, len(k.KeyValue), err, tc.size)
		}
	}
	// RC4's random-to-key is the identity: the key is the SHA-1 prefix.
	k, _ := OctetString2Key([]byte("x"), nil, nil, 23)
	k2, _ := OctetString2Key([]byte("x"), nil, nil, 17)
	if !bytes.Equal(k.KeyValue, k2.KeyValue) {
		t.Error("etype 23 key differs from the plain truncation")
	}
	if _, err := OctetString2Key(nil, nil, nil, 3); !errors.Is(err, ErrUnsupportedEType) {
		t.Errorf("etype 3: %v", err)
	}
	if _, err := DeriveKey(nil, KDFParams{KDF: KDFOctetString2Key, EType: 18}); !errors.Is(err, ErrNoAcceptableKDF) {
		t.Errorf("DeriveKey with octetstring2key: %v", err)
	}
}

func TestSelectKDF(t *testing.T) {
	for _, tc := range []struct {
		offered []KDF
		allowed []KDF
		want    KDF
		err     error
	}{
		{nil, []KDF{KDFSHA256}, KDFOctetString2Key, nil},
		{[]KDF{KDFSHA512, KDFSHA256}, []KDF{KDFSHA256, KDFSHA512}, KDFSHA512, nil},
		{[]KDF{KDFSHA1}, []KDF{KDFSHA256}, 0, ErrNoAcceptableKDF},
		{[]KDF{}, []KDF{KDFSHA256}, 0, ErrNoAcceptableKDF},
	} {
		got, err := (&AuthPack{SupportedKDFs: tc.offered}).SelectKDF(tc.allowed...)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("SelectKDF(%v, %v) = %v, %v", tc.offered, tc.allowed, got, err)
		}
	}
}

func TestASChecksum(t *testing.T) {
	for _, etype := range []int32{17, 18, 19, 20, 23} {
		k, _ := OctetString2Key([]byte("secret"), nil, nil, etype)
		sum, err := ASChecksum(k, []byte("as-req"))
		if err != nil {
			t.Fatalf("etype %d: %v", etype, err)
		}
		pack := &ReplyKeyPack{ReplyKey: k, ASChecksum: sum}
		if err := pack.CheckASChecksum([]byte("as-req")); err != nil {
			t.Errorf("etype %d: %v", etype, err)
		}
		if err := pack.CheckASChecksum([]byte("as-reX")); !errors.Is(err, ErrASChecksumMismatch) {
			t.Errorf("etype %d tampered: %v", etype, err)
		}
	}
}

// TestPrincipalEncodingLengths: a KRB5PrincipalName whose realm, names and
// sequences cross the DER long-form length boundaries (127/128, 255/256
// octets) encodes to what ParseKRB5PrincipalName reads back, at exactly the
// size computed before writing.
func TestPrincipalEncodingLengths(t *testing.T) {
	for _, n := range []int{0, 1, 60, 127, 128, 255, 256, 70000} {
		p := KRB5PrincipalName{NameType: 2, Realm: strings.Repeat("R", n), Name: []string{strings.Repeat("h", n), "x", ""}}
		der, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if len(der) != p.size() || cap(der) != p.size() {
			t.Fatalf("%d: %d bytes, size %d", n, len(der), p.size())
		}
		back, err := ParseKRB5PrincipalName(der)
		if err != nil || back.Realm != p.Realm || back.NameType != 2 || !slices.Equal(back.Name, p.Name) {
			t.Fatalf("%d: read back %v, %v", n, back, err)
		}
	}
}

// TestOtherInfoMatchesEncodingASN1: the hand-written OtherInfo is what
// encoding/asn1 writes for RFC 8636's ASN.1, for every KDF and for AS-REQ
// and reply lengths on either side of each DER length-form boundary: the
// RFC's vectors cover one length only, and a KDF input off by a byte is a
// reply key the peer cannot match.
func TestOtherInfoMatchesEncodingASN1(t *testing.T) {
	type suppPubInfo struct {
		EType   int32  `asn1:"explicit,tag:0"`
		ASReq   []byte `asn1:"explicit,tag:1"`
		PKASRep []byte `asn1:"explicit,tag:2"`
	}
	type algorithm struct{ Algorithm asn1.ObjectIdentifier }
	type otherInfo struct {
		AlgorithmID algorithm
		PartyUInfo  []byte `asn1:"explicit,tag:0"`
		PartyVInfo  []byte `asn1:"explicit,tag:1"`
		SuppPubInfo []byte `asn1:"optional,explicit,tag:2"`
	}
	lengths := []int{0, 1, 100, 121, 122, 123, 127, 128, 250, 255, 256, 3000, 65500, 65536, 70000}
	for _, kdf := range []KDF{KDFSHA1, KDFSHA256, KDFSHA512} {
		for i, n := range lengths {
			p := KDFParams{KDF: kdf, EType: 18, Client: principal("alice@EXAMPLE.COM"), KDC: principal("krbtgt/EXAMPLE.COM@EXAMPLE.COM"),
				ASReq: bytes.Repeat([]byte{0xA5}, n), PKASRep: bytes.Repeat([]byte{0x5A}, lengths[len(lengths)-1-i])}
			u, _ := p.Client.Marshal()
			v, _ := p.KDC.Marshal()
			supp, err := asn1.Marshal(suppPubInfo{p.EType, p.ASReq, p.PKASRep})
			if err != nil {
				t.Fatal(err)
			}
			want, err := asn1.Marshal(otherInfo{algorithm{kdf.oid()}, u, v, supp})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.otherInfo(); !bytes.Equal(got, want) {
				t.Fatalf("%v, AS-REQ %d bytes, reply %d bytes: OtherInfo differs from encoding/asn1's", kdf, n, len(p.PKASRep))
			}
		}
	}
}
