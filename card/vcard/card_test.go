package vcard

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/sclogon/sclogon/certs"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}

type testCard struct {
	t  *testing.T
	c  *Card
	st *State
}

func newTestCard(t *testing.T, opt Options) *testCard {
	t.Helper()
	st, err := NewState(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCard{t: t, c: New(st, opt), st: st}
	tc.expect(0x9000)(tc.raw(h("00A4040005A000000308")))
	return tc
}

// raw sends one APDU and splits the response.
func (tc *testCard) raw(apdu []byte) ([]byte, uint16) {
	tc.t.Helper()
	resp, err := tc.c.Transmit(apdu)
	if err != nil {
		tc.t.Fatalf("transmit %X: %v", apdu, err)
	}
	if len(resp) < 2 {
		tc.t.Fatalf("transmit %X: response %X has no status word", apdu, resp)
	}
	n := len(resp) - 2
	return resp[:n], uint16(resp[n])<<8 | uint16(resp[n+1])
}

// do sends a command as piv-go does: chained in 255-byte parts, no Le, the
// answer collected with GET RESPONSE.
func (tc *testCard) do(ins, p1, p2 byte, data []byte) ([]byte, uint16) {
	tc.t.Helper()
	for len(data) > 255 {
		_, sw := tc.raw(append([]byte{0x10, ins, p1, p2, 0xFF}, data[:255]...))
		if sw != 0x9000 {
			return nil, sw
		}
		data = data[255:]
	}
	apdu := []byte{0x00, ins, p1, p2}
	if len(data) > 0 {
		apdu = append(append(apdu, byte(len(data))), data...)
	}
	out, sw := tc.raw(apdu)
	for sw&0xFF00 == 0x6100 {
		var more []byte
		more, sw = tc.raw(h("00C0000000"))
		out = append(out, more...)
	}
	return out, sw
}

func (tc *testCard) expect(want uint16) func([]byte, uint16) []byte {
	tc.t.Helper()
	return func(data []byte, sw uint16) []byte {
		tc.t.Helper()
		if sw != want {
			tc.t.Fatalf("status %04X, want %04X", sw, want)
		}
		return data
	}
}

func (tc *testCard) verify(pin string) uint16 {
	tc.t.Helper()
	p := padPIN(pin)
	_, sw := tc.do(0x20, 0x00, 0x80, p[:])
	return sw
}

func mgmCipher(t *testing.T, alg ManagementKeyAlgorithm, key []byte) cipher.Block {
	t.Helper()
	var b cipher.Block
	var err error
	if alg == ManagementKey3DES {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// authMgm runs the mutual management-key authentication piv-go uses.
func (tc *testCard) authMgm(alg ManagementKeyAlgorithm, key []byte) uint16 {
	tc.t.Helper()
	b := mgmCipher(tc.t, alg, key)
	n := b.BlockSize()
	resp, sw := tc.do(0x87, byte(alg), 0x9B, h("7C028000"))
	if sw != 0x9000 {
		return sw
	}
	if len(resp) != 4+n || !bytes.Equal(resp[:4], []byte{0x7C, byte(n + 2), 0x80, byte(n)}) {
		tc.t.Fatalf("witness %X", resp)
	}
	w := make([]byte, n)
	b.Decrypt(w, resp[4:])
	ch := make([]byte, n)
	rand.Read(ch)
	var inner []byte
	inner = tlv(inner, 0x80, w)
	inner = tlv(inner, 0x81, ch)
	resp, sw = tc.do(0x87, byte(alg), 0x9B, tlv(nil, 0x7C, inner))
	if sw != 0x9000 {
		return sw
	}
	want := make([]byte, n)
	b.Encrypt(want, ch)
	if !bytes.Equal(resp, tlv(nil, 0x7C, tlv(nil, 0x82, want))) {
		tc.t.Fatalf("card's response to our challenge %X, want %X", resp, want)
	}
	return sw
}

func (tc *testCard) putObject(tag uint32, value []byte) uint16 {
	tc.t.Helper()
	data := tlv(nil, 0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)})
	_, sw := tc.do(0xDB, 0x3F, 0xFF, tlv(data, 0x53, value))
	return sw
}

func (tc *testCard) getObject(tag uint32) ([]byte, uint16) {
	tc.t.Helper()
	return tc.do(0xCB, 0x3F, 0xFF, tlv(nil, 0x5C, []byte{byte(tag >> 16), byte(tag >> 8), byte(tag)}))
}

func (tc *testCard) ga(alg, slot byte, tag byte, data []byte) ([]byte, uint16) {
	tc.t.Helper()
	inner := append([]byte{0x82, 0x00}, tlv(nil, uint16(tag), data)...)
	resp, sw := tc.do(0x87, alg, slot, tlv(nil, 0x7C, inner))
	if sw != 0x9000 {
		return nil, sw
	}
	dat, ok := onlyTLV(resp, 0x7C)
	if !ok {
		tc.t.Fatalf("GA response %X is not 7C", resp)
	}
	out, ok := onlyTLV(dat, 0x82)
	if !ok {
		tc.t.Fatalf("GA response %X has no 82", resp)
	}
	return out, sw
}

func TestParseCommand(t *testing.T) {
	for _, tt := range []struct {
		apdu string
		ok   bool
		data string
		ne   int
	}{
		{"00A40400", true, "", 256},
		{"00FD000000", true, "", 256},
		{"00CB3FFF08", true, "", 8},
		{"00A4040005A000000308", true, "A000000308", 256},
		{"00CB3FFF055C035FC10500", true, "5C035FC105", 256},
		{"00CB3FFF055C035FC10508", true, "5C035FC105", 8},
		{"00CB3FFF000100", true, "", 256},                     // case 2 extended
		{"00CB3FFF000000", true, "", 65536},                   // case 2 extended, Le 0000
		{"00CB3FFF0000055C035FC105", true, "5C035FC105", 256}, // case 3 extended
		{"00CB3FFF0000055C035FC1050010", true, "5C035FC105", 16},
		{"00CB3F", false, "", 0},
		{"00CB3FFF055C03", false, "", 0},
		{"00CB3FFF055C035FC1050000", false, "", 0},
		{"00CB3FFF0000", false, "", 0},
		{"00CB3FFF00000000", false, "", 0},
		{"00CB3FFF0000055C03", false, "", 0},
	} {
		c, ok := parseCommand(h(tt.apdu))
		if ok != tt.ok {
			t.Errorf("%s: ok %v, want %v", tt.apdu, ok, tt.ok)
			continue
		}
		if ok && (!bytes.Equal(c.data, h(tt.data)) || c.ne != tt.ne) {
			t.Errorf("%s: data %X ne %d, want %s %d", tt.apdu, c.data, c.ne, tt.data, tt.ne)
		}
	}
}

func TestSelect(t *testing.T) {
	st, _ := NewState(rand.Reader)
	tc := &testCard{t: t, c: New(st, Options{}), st: st}
	// Nothing answers before the PIV application is selected.
	tc.expect(0x6985)(tc.raw(h("00CB3FFF035C017E")))
	// Another application (OpenPGP): not found.
	tc.expect(0x6A82)(tc.raw(h("00A4040006D27600012401")))
	apt := tc.expect(0x9000)(tc.raw(h("00A4040005A000000308")))
	if want := h("6111 4F06000010000100 7907 4F05A000000308"); !bytes.Equal(apt, want) {
		t.Errorf("APT %X, want %X", apt, want)
	}
	tc.expect(0x9000)(tc.raw(h("00A404000BA000000308000010000100")))
	tc.expect(0x9000)(tc.raw(h("00A4040C05A000000308")))
	tc.expect(0x6A86)(tc.raw(h("00A4000005A000000308")))
	// A failed SELECT leaves the PIV application selected.
	tc.expect(0x6A82)(tc.raw(h("00A4040006D27600012401")))
	tc.expect(0x9000)(tc.raw(h("00CB3FFF035C017E")))
}

func TestDiscoveryCHUIDAndCCC(t *testing.T) {
	tc := newTestCard(t, Options{})
	got := tc.expect(0x9000)(tc.raw(h("00CB3FFF035C017E00")))
	if want := h("7E12 4F0BA0000003080000100001 00 5F2F024000"); !bytes.Equal(got, want) {
		t.Errorf("discovery object %X, want %X", got, want)
	}
	chuid := tc.expect(0x9000)(tc.getObject(tagCHUID))
	v, ok := onlyTLV(chuid, 0x53)
	if !ok {
		t.Fatalf("CHUID %X", chuid)
	}
	vals, _, ok := parseTLVs(v)
	guid := tc.st.GUID()
	if !ok || !bytes.Equal(vals[0x34], guid[:]) || len(vals[0x30]) != 25 {
		t.Errorf("CHUID %X: no GUID %X or FASC-N", v, guid)
	}
	tc.expect(0x9000)(tc.getObject(tagCardCapabil))
	kh := tc.expect(0x9000)(tc.getObject(tagKeyHistory))
	if want := h("5308 C10100 C20100 FE00"); !bytes.Equal(kh, want) {
		t.Errorf("key history %X, want %X", kh, want)
	}
	tc.expect(0x6A82)(tc.getObject(0x5FC105))
	tc.expect(0x6982)(tc.getObject(tagPrinted))
	tc.expect(0x6A80)(tc.raw(h("00CB3FFF045C025FC1")))
	tc.expect(0x6A86)(tc.raw(h("00CB3FFE035C017E")))
}

func TestCertificatesLeAndGetResponse(t *testing.T) {
	ca := newTestCA(t)
	key := testKey(t, "rsa2048")
	der := ca.issue(t, "alice", key.Public(), certs.SAN{UPNs: []string{"alice@example.com"}})
	tc := newTestCard(t, Options{})
	if err := tc.st.SetCertificate(SlotAuthentication, der); err != nil {
		t.Fatal(err)
	}
	for slot := SlotRetiredFirst; slot < SlotRetiredFirst+3; slot++ {
		if err := tc.st.SetCertificate(slot, der); err != nil {
			t.Fatal(err)
		}
	}
	obj := tlv(nil, 0x53, certObjectValue(der))
	// OpenSC reads the first 8 bytes (Le 08) for the length…
	first, sw := tc.raw(h("00CB3FFF055C035FC10508"))
	if !bytes.Equal(first, obj[:8]) || sw != 0x6100|uint16(min(len(obj)-8, 256)&0xFF) {
		t.Fatalf("Le 08: %X %04X", first, sw)
	}
	// …then the whole object with Le 00 and GET RESPONSE.
	var all []byte
	data, sw := tc.raw(h("00CB3FFF055C035FC10500"))
	all = append(all, data...)
	if len(data) != 256 || sw&0xFF00 != 0x6100 {
		t.Fatalf("Le 00: %d bytes, %04X", len(data), sw)
	}
	for sw&0xFF00 == 0x6100 {
		le := byte(sw)
		data, sw = tc.raw([]byte{0, 0xC0, 0, 0, le})
		if le != 0 && len(data) != int(le) {
			t.Fatalf("GET RESPONSE Le %02X returned %d bytes", le, len(data))
		}
		all = append(all, data...)
	}
	if sw != 0x9000 || !bytes.Equal(all, obj) {
		t.Fatalf("certificate object via GET RESPONSE: %04X, %d bytes, want %d", sw, len(all), len(obj))
	}
	// Extended Le takes it all at once.
	data, sw = tc.raw(h("00CB3FFF0000055C035FC1050000"))
	if sw != 0x9000 || !bytes.Equal(data, obj) {
		t.Fatalf("extended Le: %04X, %d bytes", sw, len(data))
	}
	// GET RESPONSE with nothing pending, or after another command.
	tc.expect(0x6985)(tc.raw(h("00C0000000")))
	tc.raw(h("00CB3FFF055C035FC10500"))
	tc.raw(h("00CB3FFF035C017E"))
	tc.expect(0x6985)(tc.raw(h("00C0000000")))
	kh := tc.expect(0x9000)(tc.getObject(tagKeyHistory))
	if want := h("5308 C10103 C20100 FE00"); !bytes.Equal(kh, want) {
		t.Errorf("key history %X, want %X", kh, want)
	}
}

func TestPutDataAndChaining(t *testing.T) {
	tc := newTestCard(t, Options{})
	big := bytes.Repeat([]byte{0xAB}, 1000)
	tc.expect(0x6982)(nil, tc.putObject(0x5FC105, big))
	tc.expect(0x9000)(nil, tc.authMgm(ManagementKey3DES, DefaultManagementKey))
	tc.expect(0x9000)(nil, tc.putObject(0x5FC105, big)) // four chained parts
	got := tc.expect(0x9000)(tc.getObject(0x5FC105))
	if !bytes.Equal(got, tlv(nil, 0x53, big)) {
		t.Fatalf("object read back differs")
	}
	// A chain broken by another command is dropped.
	tc.expect(0x9000)(tc.raw(append(h("10DB3FFF05"), h("5C035FC10A")...)))
	tc.expect(0x9000)(tc.raw(h("00CB3FFF035C017E")))
	tc.expect(0x6A80)(tc.raw(h("00DB3FFF03530100")))
	// Deleting: an empty 53.
	tc.expect(0x9000)(nil, tc.putObject(0x5FC105, nil))
	tc.expect(0x6A82)(tc.getObject(0x5FC105))
	tc.expect(0x6A80)(nil, tc.putObject(0x5FC201, big))
	// PIN-protected objects are readable after VERIFY.
	tc.expect(0x9000)(nil, tc.putObject(tagPrinted, h("8800")))
	tc.expect(0x6982)(tc.getObject(tagPrinted))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.expect(0x9000)(tc.getObject(tagPrinted))
	// Too much chained data.
	for i := 0; i < maxCommandData/255; i++ {
		tc.raw(append(h("10DB3FFFFF"), make([]byte, 255)...))
	}
	tc.expect(0x6A84)(tc.raw(append(h("10DB3FFFFF"), make([]byte, 255)...)))
}

func TestPINStateMachine(t *testing.T) {
	tc := newTestCard(t, Options{})
	tc.expect(0x63C3)(tc.raw(h("0020008000")[:4]))
	tc.expect(0x63C3)(tc.raw(h("00200080")))
	// Malformed lengths are refused without counting.
	tc.expect(0x6A80)(tc.raw(h("0020008003313233")))
	tc.expect(0x6A88)(tc.raw(append(h("0020008108"), padSlice("123456")...)))
	tc.expect(0x63C3)(tc.raw(h("00200080")))
	tc.expect(0x63C2)(nil, tc.verify("654321"))
	tc.expect(0x63C2)(tc.raw(h("00200080")))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.expect(0x9000)(tc.raw(h("00200080")))
	// P1 FF resets the PIN's security status.
	tc.expect(0x9000)(tc.raw(h("0020FF80")))
	tc.expect(0x63C3)(tc.raw(h("00200080")))
	tc.expect(0x63C2)(nil, tc.verify("000000"))
	tc.expect(0x63C1)(nil, tc.verify("000000"))
	tc.expect(0x63C0)(nil, tc.verify("000000"))
	tc.expect(0x6983)(nil, tc.verify("000000"))
	tc.expect(0x6983)(nil, tc.verify(DefaultPIN))
	tc.expect(0x6983)(tc.raw(h("00200080")))
	if tc.st.PINTriesLeft() != 0 {
		t.Fatalf("PIN tries %d after blocking", tc.st.PINTriesLeft())
	}
	// The PUK unblocks it: a wrong PUK costs one PUK try.
	unblock := func(puk, pin string) uint16 {
		return tc.do2(0x2C, 0x00, 0x80, append(padSlice(puk), padSlice(pin)...))
	}
	tc.expect(0x63C2)(nil, unblock("87654321", "222222"))
	tc.expect(0x6A80)(nil, unblock(DefaultPUK, "12"))
	tc.expect(0x9000)(nil, unblock(DefaultPUK, "222222"))
	tc.expect(0x63C3)(tc.raw(h("00200080")))
	tc.expect(0x9000)(nil, tc.verify("222222"))
	if tc.st.PUKTriesLeft() != 3 {
		t.Fatalf("PUK tries %d after unblocking", tc.st.PUKTriesLeft())
	}
	// CHANGE REFERENCE DATA, PIN and PUK.
	change := func(p2 byte, old, new string) uint16 {
		return tc.do2(0x24, 0x00, p2, append(padSlice(old), padSlice(new)...))
	}
	tc.expect(0x63C2)(nil, change(0x80, "111111", "33333333"))
	tc.expect(0x6A80)(nil, change(0x80, "222222", "333"))
	tc.expect(0x9000)(nil, change(0x80, "222222", "33333333"))
	tc.expect(0x9000)(nil, tc.verify("33333333"))
	tc.expect(0x63C2)(nil, change(0x81, "11111111", "44444444"))
	tc.expect(0x9000)(nil, change(0x81, DefaultPUK, "44444444"))
	tc.expect(0x6A88)(nil, change(0x82, DefaultPUK, "44444444"))
	for i := 2; i >= 0; i-- {
		tc.expect(0x63C0|uint16(i))(nil, change(0x81, "00000000", "55555555"))
	}
	tc.expect(0x6983)(nil, change(0x81, "44444444", "55555555"))
	tc.expect(0x6983)(nil, unblock("44444444", "666666"))
}

func (tc *testCard) do2(ins, p1, p2 byte, data []byte) uint16 {
	tc.t.Helper()
	_, sw := tc.do(ins, p1, p2, data)
	return sw
}

func padSlice(s string) []byte {
	p := padPIN(s)
	return p[:]
}

func TestCounterSavedBeforeCompare(t *testing.T) {
	var seen []int
	var fail bool
	st, _ := NewState(rand.Reader)
	c := New(st, Options{Save: func(s *State) error {
		seen = append(seen, s.PINTriesLeft())
		if fail {
			return errors.New("disk full")
		}
		return nil
	}})
	tc := &testCard{t: t, c: c, st: st}
	tc.expect(0x9000)(tc.raw(h("00A4040005A000000308")))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	if fmt.Sprint(seen) != "[2 3]" {
		t.Errorf("saved PIN tries %v around a right PIN, want [2 3]", seen)
	}
	seen = nil
	tc.expect(0x63C2)(nil, tc.verify("999999"))
	if fmt.Sprint(seen) != "[2]" {
		t.Errorf("saved PIN tries %v for a wrong PIN, want [2]", seen)
	}
	// When the counter cannot be saved, nothing is compared: even the right
	// PIN fails, and the try stays spent.
	fail = true
	tc.expect(0x6581)(nil, tc.verify(DefaultPIN))
	tc.expect(0x6581)(nil, tc.do2(0x2C, 0, 0x80, append(padSlice(DefaultPUK), padSlice("123123")...)))
	fail = false
	tc.expect(0x63C1)(tc.raw(h("00200080")))
	if st.PUKTriesLeft() != 2 {
		t.Errorf("PUK tries %d, want 2", st.PUKTriesLeft())
	}
}

func TestManagementKeyAuthentication(t *testing.T) {
	for _, tt := range []struct {
		alg ManagementKeyAlgorithm
		n   int
	}{{ManagementKey3DES, 24}, {ManagementKeyAES128, 16}, {ManagementKeyAES192, 24}, {ManagementKeyAES256, 32}} {
		t.Run(fmt.Sprintf("%02X", byte(tt.alg)), func(t *testing.T) {
			tc := newTestCard(t, Options{})
			key := make([]byte, tt.n)
			rand.Read(key)
			if tt.alg == ManagementKey3DES {
				key = DefaultManagementKey
			} else if err := tc.st.SetManagementKey(tt.alg, key); err != nil {
				t.Fatal(err)
			}
			wrong := bytes.Clone(key)
			wrong[0] ^= 0xFF
			tc.expect(0x6982)(nil, tc.authMgm(tt.alg, wrong))
			tc.expect(0x6982)(nil, tc.putObject(0x5FC105, h("00")))
			tc.expect(0x9000)(nil, tc.authMgm(tt.alg, key))
			tc.expect(0x9000)(nil, tc.putObject(0x5FC105, h("00")))
			// Wrong algorithm for the key.
			other := ManagementKeyAES128
			if tt.alg == ManagementKeyAES128 {
				other = ManagementKeyAES256
			}
			tc.expect(0x6A86)(tc.do(0x87, byte(other), 0x9B, h("7C028000")))
			// Client-only authentication: challenge 81, response 82.
			tc.c.Reset()
			tc.raw(h("00A4040005A000000308"))
			b := mgmCipher(t, tt.alg, key)
			resp := tc.expect(0x9000)(tc.do(0x87, byte(tt.alg), 0x9B, h("7C028100")))
			ch, _ := onlyTLV(resp[2:], 0x81)
			enc := make([]byte, b.BlockSize())
			b.Encrypt(enc, ch)
			tc.expect(0x9000)(tc.do(0x87, byte(tt.alg), 0x9B, tlv(nil, 0x7C, tlv(nil, 0x82, enc))))
			tc.expect(0x9000)(nil, tc.putObject(0x5FC105, h("00")))
			// A response without a challenge outstanding.
			tc.expect(0x6985)(tc.do(0x87, byte(tt.alg), 0x9B, tlv(nil, 0x7C, tlv(nil, 0x82, enc))))
			tc.expect(0x6982)(nil, tc.putObject(0x5FC105, h("00")))
		})
	}
}

func TestGeneralAuthenticate(t *testing.T) {
	digest := sha256.Sum256([]byte("sclogon"))
	for _, tt := range []struct {
		kind string
		alg  byte
	}{{"rsa2048", algRSA2048}, {"rsa3072", algRSA3072}, {"rsa4096", algRSA4096}, {"p256", algP256}, {"p384", algP384}} {
		t.Run(tt.kind, func(t *testing.T) {
			tc := newTestCard(t, Options{})
			key := testKey(t, tt.kind)
			if err := tc.st.SetKey(SlotAuthentication, key, PINPolicyDefault); err != nil {
				t.Fatal(err)
			}
			var in []byte
			switch pub := key.Public().(type) {
			case *rsa.PublicKey:
				in = pkcs1Sign(pub.Size(), digest[:])
			default:
				in = digest[:]
			}
			tc.expect(0x6982)(tc.ga(tt.alg, SlotAuthentication, 0x81, in))
			tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
			tc.expect(0x6A86)(tc.ga(tt.alg^0x01, SlotAuthentication, 0x81, in))
			tc.expect(0x6A88)(tc.ga(tt.alg, SlotSignature, 0x81, in))
			sig := tc.expect(0x9000)(tc.ga(tt.alg, SlotAuthentication, 0x81, in))
			switch pub := key.Public().(type) {
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Fatalf("RSA signature: %v", err)
				}
				// Decryption: the card returns the whole padded block.
				msg := []byte("a session key!")
				//lint:ignore SA1019 RFC 4556 §3.2.3.2 key transport is PKCS #1 v1.5 (rsaEncryption): the card decrypts what a KDC sends
				ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
				block := tc.expect(0x9000)(tc.ga(tt.alg, SlotAuthentication, 0x81, ct))
				if len(block) != pub.Size() || block[0] != 0 || block[1] != 2 || !bytes.HasSuffix(block, append([]byte{0}, msg...)) {
					t.Fatalf("decrypted block %X", block)
				}
				// PSS: the client encodes, the card exponentiates.
				pss, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], nil)
				if err != nil {
					t.Fatal(err)
				}
				em := new(big.Int).SetBytes(pss)
				em.Exp(em, big.NewInt(int64(pub.E)), pub.N)
				out := tc.expect(0x9000)(tc.ga(tt.alg, SlotAuthentication, 0x81, em.FillBytes(make([]byte, pub.Size()))))
				if !bytes.Equal(out, pss) {
					t.Fatal("raw RSA on a PSS block is not the PSS signature")
				}
				tc.expect(0x6A80)(tc.ga(tt.alg, SlotAuthentication, 0x81, in[1:]))
				tc.expect(0x6A80)(tc.ga(tt.alg, SlotAuthentication, 0x81, bytes.Repeat([]byte{0xFF}, pub.Size())))
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatal("ECDSA signature does not verify")
				}
				ours, _ := key.(*ecdsa.PrivateKey).ECDH()
				eph, _ := ours.Curve().GenerateKey(rand.Reader)
				secret := tc.expect(0x9000)(tc.ga(tt.alg, SlotAuthentication, 0x85, eph.PublicKey().Bytes()))
				want, _ := eph.ECDH(ours.PublicKey())
				if !bytes.Equal(secret, want) {
					t.Fatal("ECDH secret differs")
				}
				tc.expect(0x6A80)(tc.ga(tt.alg, SlotAuthentication, 0x85, eph.PublicKey().Bytes()[1:]))
			}
		})
	}
}

func pkcs1Sign(k int, digest []byte) []byte {
	prefix := h("3031300d060960864801650304020105000420")
	t := append(prefix, digest...)
	out := []byte{0, 1}
	out = append(out, bytes.Repeat([]byte{0xFF}, k-3-len(t))...)
	return append(append(out, 0), t...)
}

func TestPINPolicies(t *testing.T) {
	tc := newTestCard(t, Options{})
	key := testKey(t, "p256")
	for slot, p := range map[byte]PINPolicy{0x9A: PINPolicyOnce, 0x9C: PINPolicyDefault, 0x9E: PINPolicyDefault, 0x82: PINPolicyAlways} {
		if err := tc.st.SetKey(slot, key, p); err != nil {
			t.Fatal(err)
		}
	}
	d := make([]byte, 32)
	// 9E (card authentication) defaults to never.
	tc.expect(0x9000)(tc.ga(algP256, 0x9E, 0x81, d))
	tc.expect(0x6982)(tc.ga(algP256, 0x9A, 0x81, d))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.expect(0x9000)(tc.ga(algP256, 0x9A, 0x81, d))
	tc.expect(0x9000)(tc.ga(algP256, 0x9A, 0x81, d))
	// 9C (digital signature) defaults to always: a VERIFY right before each use.
	tc.expect(0x6982)(tc.ga(algP256, 0x9C, 0x81, d))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.expect(0x9000)(tc.ga(algP256, 0x9C, 0x81, d))
	tc.expect(0x6982)(tc.ga(algP256, 0x9C, 0x81, d))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.raw(h("00CB3FFF035C017E"))
	tc.expect(0x6982)(tc.ga(algP256, 0x82, 0x81, d))
	// Reset and power-off clear the session.
	tc.c.Reset()
	tc.raw(h("00A4040005A000000308"))
	tc.expect(0x6982)(tc.ga(algP256, 0x9A, 0x81, d))
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	tc.c.PowerOff()
	if _, err := tc.c.Transmit(h("00A4040005A000000308")); !errors.Is(err, ErrPoweredOff) {
		t.Fatalf("transmit to a card without power: %v", err)
	}
	tc.c.PowerOn()
	tc.expect(0x6985)(tc.raw(h("00200080")))
	tc.raw(h("00A4040005A000000308"))
	tc.expect(0x63C3)(tc.raw(h("00200080")))
	tc.expect(0x6982)(tc.ga(algP256, 0x9A, 0x81, d))
}

func TestGenerateKeyPair(t *testing.T) {
	tc := newTestCard(t, Options{})
	gen := func(slot byte, crt string) ([]byte, uint16) {
		return tc.do(0x47, 0x00, slot, tlv(nil, 0xAC, h(crt)))
	}
	tc.expect(0x6982)(gen(0x9A, "800111"))
	tc.expect(0x9000)(nil, tc.authMgm(ManagementKey3DES, DefaultManagementKey))
	tc.expect(0x6A86)(gen(0x9B, "800111"))
	tc.expect(0x6A81)(gen(0x9A, "800199"))
	for _, tt := range []struct {
		slot byte
		crt  string
		alg  byte
	}{{0x9A, "800111", algP256}, {0x9C, "800114 AA0101 AB0101", algP384}, {0x9D, "800107", algRSA2048}} {
		resp := tc.expect(0x9000)(gen(tt.slot, tt.crt))
		pubTLV, ok := onlyTLV(resp, 0x7F49)
		if !ok {
			t.Fatalf("generate: %X", resp)
		}
		pub, _ := tc.st.PublicKey(tt.slot)
		if !bytes.Equal(pubTLV, publicKeyTLVs(pub)) {
			t.Fatalf("returned public key differs from the slot's")
		}
		meta := tc.expect(0x9000)(tc.do(0xF7, 0, tt.slot, nil))
		vals, _, _ := parseTLVs(meta)
		if vals[1][0] != tt.alg || vals[3][0] != originGenerated || !bytes.Equal(vals[4], pubTLV) {
			t.Fatalf("metadata %X", meta)
		}
	}
	meta := tc.expect(0x9000)(tc.do(0xF7, 0, 0x9C, nil))
	vals, _, _ := parseTLVs(meta)
	if !bytes.Equal(vals[2], h("0101")) {
		t.Errorf("9C policy %X, want the requested 0101", vals[2])
	}
	// The generated P-256 key signs.
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	d := sha256.Sum256(nil)
	sig := tc.expect(0x9000)(tc.ga(algP256, 0x9A, 0x81, d[:]))
	pub, _ := tc.st.PublicKey(0x9A)
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature of a generated key does not verify")
	}
}

func TestYubiKeyExtensions(t *testing.T) {
	tc := newTestCard(t, Options{})
	if v := tc.expect(0x9000)(tc.raw(h("00FD000000"))); !bytes.Equal(v, firmwareVersion) {
		t.Errorf("version %X", v)
	}
	s := tc.expect(0x9000)(tc.raw(h("00F8000000")))
	if len(s) != 4 || uint32(s[0])<<24|uint32(s[1])<<16|uint32(s[2])<<8|uint32(s[3]) != tc.st.Serial() {
		t.Errorf("serial %X, want %d", s, tc.st.Serial())
	}
	if m := tc.expect(0x9000)(tc.do(0xF7, 0, 0x9B, nil)); !bytes.Equal(m, h("010103 02020001 050101")) {
		t.Errorf("9B metadata %X", m)
	}
	if m := tc.expect(0x9000)(tc.do(0xF7, 0, 0x80, nil)); !bytes.Equal(m, h("0101FF 050101 06020303")) {
		t.Errorf("PIN metadata %X", m)
	}
	tc.expect(0x6A82)(tc.do(0xF7, 0, 0x9A, nil))
	// SET MANAGEMENT KEY to AES-256, then authenticate with it.
	newKey := make([]byte, 32)
	rand.Read(newKey)
	setKey := append([]byte{0x0C, 0x9B, 32}, newKey...)
	tc.expect(0x6982)(tc.do(0xFF, 0xFF, 0xFF, setKey))
	tc.expect(0x9000)(nil, tc.authMgm(ManagementKey3DES, DefaultManagementKey))
	tc.expect(0x6A80)(tc.do(0xFF, 0xFF, 0xFF, setKey[:20]))
	tc.expect(0x9000)(tc.do(0xFF, 0xFF, 0xFF, setKey))
	tc.expect(0x9000)(nil, tc.authMgm(ManagementKeyAES256, newKey))
	// IMPORT KEY, EC and RSA, then sign with them.
	ec := testKey(t, "p256").(*ecdsa.PrivateKey)
	scalar, _ := ec.Bytes()
	tc.expect(0x9000)(tc.do(0xFE, algP256, 0x9A, append(tlv(nil, 0x06, scalar), h("AA0101AB0101")...)))
	rk := testKey(t, "rsa2048").(*rsa.PrivateKey)
	rk.Precompute()
	var tags []byte
	for i, v := range []*big.Int{rk.Primes[0], rk.Primes[1], rk.Precomputed.Dp, rk.Precomputed.Dq, rk.Precomputed.Qinv} {
		tags = tlv(tags, uint16(i+1), v.FillBytes(make([]byte, 128)))
	}
	tc.expect(0x9000)(tc.do(0xFE, algRSA2048, 0x9D, append(tags, h("AA0102")...)))
	d := sha256.Sum256([]byte("x"))
	sig := tc.expect(0x9000)(tc.ga(algP256, 0x9A, 0x81, d[:]))
	if !ecdsa.VerifyASN1(&ec.PublicKey, d[:], sig) {
		t.Fatal("imported EC key signature does not verify")
	}
	tc.expect(0x9000)(nil, tc.verify(DefaultPIN))
	sig = tc.expect(0x9000)(tc.ga(algRSA2048, 0x9D, 0x81, pkcs1Sign(256, d[:])))
	if err := rsa.VerifyPKCS1v15(&rk.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Fatal(err)
	}
	tc.expect(0x6A80)(tc.do(0xFE, algRSA2048, 0x9D, tags[:200]))
	// SET PIN RETRIES needs management key and PIN, and resets PIN and PUK.
	tc.expect(0x9000)(tc.raw(h("00FA0505")))
	if m := tc.expect(0x9000)(tc.do(0xF7, 0, 0x81, nil)); !bytes.Equal(m, h("0101FF 050101 06020505")) {
		t.Errorf("PUK metadata %X", m)
	}
	// RESET only with PIN and PUK blocked.
	tc.expect(0x6985)(tc.raw(h("00FB0000")))
	for range 5 {
		tc.verify("000000")
		tc.do(0x24, 0, 0x81, append(padSlice("00000000"), padSlice("00000000")...))
	}
	tc.expect(0x9000)(tc.raw(h("00FB0000")))
	if _, ok := tc.st.PublicKey(0x9A); ok || tc.st.PINTriesLeft() != 3 {
		t.Fatal("RESET kept keys or the blocked PIN")
	}
	tc.expect(0x9000)(nil, tc.authMgm(ManagementKey3DES, DefaultManagementKey))
}

func TestGenericCardHasNoExtensions(t *testing.T) {
	tc := newTestCard(t, Options{Generic: true})
	for _, apdu := range []string{"00FD000000", "00F8000000", "00F700 9B00", "00FFFFFF00", "00FE119A00", "00FB0000", "00FA0303", "00F99A0000"} {
		tc.expect(0x6D00)(tc.raw(h(apdu)))
	}
	tc.expect(0x63C3)(tc.raw(h("00200080")))
}

func TestStatusWordsForBadCommands(t *testing.T) {
	tc := newTestCard(t, Options{})
	tc.expect(0x6700)(tc.raw(h("00CB3F")))
	tc.expect(0x6E00)(tc.raw(h("80CB3FFF035C017E")))
	tc.expect(0x6882)(tc.raw(h("0CCB3FFF035C017E")))
	tc.expect(0x6D00)(tc.raw(h("00B0000000")))
	tc.expect(0x6A80)(tc.raw(h("00879A9A027C00")[:5]))
	tc.expect(0x6A80)(tc.raw(h("0087119A037C0100")))
	tc.expect(0x6A86)(tc.raw(h("0087115A047C028200")))
}

func TestTraceRedactsSecrets(t *testing.T) {
	var trace strings.Builder
	tc := newTestCard(t, Options{Trace: &trace})
	if err := tc.st.SetKey(0x9D, testKey(t, "p256"), PINPolicyNever); err != nil {
		t.Fatal(err)
	}
	tc.verify("31415926")
	tc.verify(DefaultPIN)
	tc.authMgm(ManagementKey3DES, DefaultManagementKey)
	tc.do(0x24, 0, 0x81, append(padSlice(DefaultPUK), padSlice("27182818")...))
	ours, _ := testKey(t, "p256").(*ecdsa.PrivateKey).ECDH()
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	secret, _ := tc.ga(algP256, 0x9D, 0x85, eph.PublicKey().Bytes())
	want, _ := eph.ECDH(ours.PublicKey())
	if !bytes.Equal(secret, want) {
		t.Fatal("ECDH")
	}
	out := trace.String()
	for _, secret := range []string{"3331343135393236", "313233343536", "3132333435363738", "3237313832383138", fmt.Sprintf("%X", secret)} {
		if strings.Contains(out, secret) {
			t.Errorf("trace shows secret %s:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "vcard: > 00 20 00 80 [8 bytes redacted]") || !strings.Contains(out, "63C2") {
		t.Errorf("trace lacks the redacted VERIFY:\n%s", out)
	}
	if !strings.Contains(out, "vcard: > 00 A4 04 00 05 A000000308") {
		t.Errorf("trace lacks SELECT:\n%s", out)
	}
}

func TestObserveAndAPDUCount(t *testing.T) {
	var seen []Exchange
	st, _ := NewState(rand.Reader)
	c := New(st, Options{Observe: func(e Exchange) { seen = append(seen, e) }})
	c.Transmit(h("00A4040005A000000308"))
	c.Transmit(h("00200080"))
	if c.APDUs() != 2 || len(seen) != 2 || seen[1] != (Exchange{INS: 0x20, P2: 0x80, SW: 0x63C3}) {
		t.Fatalf("APDUs %d, observed %+v", c.APDUs(), seen)
	}
}

func TestStateFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/card.json"
	st, _ := NewState(rand.Reader)
	ca := newTestCA(t)
	for slot, kind := range map[byte]string{0x9A: "rsa2048", 0x9C: "p384", 0x95: "p256"} {
		k := testKey(t, kind)
		if err := st.SetKey(slot, k, PINPolicyDefault); err != nil {
			t.Fatal(err)
		}
		if err := st.SetCertificate(slot, ca.issue(t, kind, k.Public(), certs.SAN{})); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetPIN("24680246"); err != nil {
		t.Fatal(err)
	}
	aes := make([]byte, 16)
	rand.Read(aes)
	if err := st.SetManagementKey(ManagementKeyAES128, aes); err != nil {
		t.Fatal(err)
	}
	st.pinLeft = 1
	if err := st.Create(path); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(path); err == nil {
		t.Fatal("Create replaced an existing state file")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v (%v), want 0600", fi.Mode(), err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := st.MarshalBinary()
	b, _ := got.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Fatalf("state changed across Save and Load:\n%s\n%s", a, b)
	}
	if got.PINTriesLeft() != 1 || !got.matchPIN(padSlice("24680246")) {
		t.Fatal("PIN or its counter lost")
	}
	if err := got.Save(path); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", st, st, st, st); strings.Contains(s, "3234363830") || strings.Contains(s, hex.EncodeToString(aes)) {
		t.Fatalf("formatting a State shows secrets: %s", s)
	}
	// Corrupt files are refused with a reason.
	for _, bad := range []string{`{}`, `{"version":1}`, strings.Replace(string(a), `"pinTriesLeft": 1`, `"pinTriesLeft": 9`, 1)} {
		var s State
		if err := s.UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("accepted %.40q", bad)
		}
	}
}
