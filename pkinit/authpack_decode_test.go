package pkinit

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// requestVectors are PA-PK-AS-REQ padata-values and the AuthPacks they sign:
// Heimdal's kinit as recorded (DH and RSA), and AuthPacks of the shapes MIT,
// Heimdal and Windows clients send, as this package's client writes them.
func requestVectors(tb testing.TB) (reqs, authPacks [][]byte) {
	tb.Helper()
	for _, name := range []string{"heimdal-7.8-kinit-as-req-dh.der", "heimdal-7.8-kinit-as-req-rsa.der"} {
		der, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			tb.Fatal(err)
		}
		req := pkASReqOf(tb, der)
		ref, err := parsePKASReqRef(req)
		if err != nil {
			tb.Fatal(err)
		}
		sc, err := VerifySignedData(ref.SignedAuthPack, VerifyOptions{AllowSHA1: true})
		if err != nil {
			tb.Fatal(err)
		}
		reqs, authPacks = append(reqs, req), append(authPacks, sc.Content)
	}
	f := fixtures(tb)
	for _, ap := range authPackShapes(tb) {
		der, err := ap.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		authPacks = append(authPacks, der)
		req, err := BuildPKASReq(ap, f.ecClient.key, f.ecClient.cert, SignOptions{Rand: rand.Reader})
		if err != nil {
			tb.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	certifiers := []ExternalPrincipalIdentifier{{SubjectName: []byte{0x30, 0}}, {IssuerAndSerialNumber: []byte{1, 2}, SubjectKeyIdentifier: []byte{}}, {}}
	for _, r := range []PKASReq{
		{SignedAuthPack: []byte{}},
		{SignedAuthPack: make([]byte, 300), TrustedCertifiers: certifiers, KDCPkID: []byte{4}},
		{SignedAuthPack: []byte{1}, TrustedCertifiers: []ExternalPrincipalIdentifier{}},
		{SignedAuthPack: []byte{1}, KDCPkID: make([]byte, 200)},
	} {
		der, err := r.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		reqs = append(reqs, der)
	}
	return reqs, authPacks
}

// pkASReqOf returns the PA_PK_AS_REQ padata-value of a DER AS-REQ
// (RFC 4120 §5.4.1).
func pkASReqOf(tb testing.TB, der []byte) []byte {
	in := cryptobyte.String(der)
	var app, req, padataT, padata cryptobyte.String
	if !in.ReadASN1(&app, cbasn1.Tag(0x6a)) || !app.ReadASN1(&req, cbasn1.SEQUENCE) ||
		!req.SkipASN1(tagCtx1Cons) || !req.SkipASN1(cbasn1.Tag(2).ContextSpecific().Constructed()) ||
		!req.ReadASN1(&padataT, cbasn1.Tag(3).ContextSpecific().Constructed()) || !padataT.ReadASN1(&padata, cbasn1.SEQUENCE) {
		tb.Fatal("not an AS-REQ")
	}
	for !padata.Empty() {
		var pa, typT, valT, val cryptobyte.String
		var typ int64
		if !padata.ReadASN1(&pa, cbasn1.SEQUENCE) || !pa.ReadASN1(&typT, tagCtx1Cons) || !typT.ReadASN1Integer(&typ) ||
			!pa.ReadASN1(&valT, cbasn1.Tag(2).ContextSpecific().Constructed()) || !valT.ReadASN1(&val, cbasn1.OCTET_STRING) {
			tb.Fatal("bad PA-DATA")
		}
		if typ == int64(PAPKASReq) {
			return val
		}
	}
	tb.Fatal("no PA-PK-AS-REQ")
	return nil
}

// authPackShapes are AuthPacks as MIT (ECDH or DH, many supportedCMSTypes,
// three KDFs), Heimdal (DH, no KDFs) and Windows (RSA key transport,
// SHA-1 types, a freshness token) send them, and the optional fields each
// present empty.
func authPackShapes(tb testing.TB) []*AuthPack {
	ec, _ := NewECDHKey(CurveP256, rand.Reader)
	dh, _ := NewDHKey(MODPGroup14, rand.Reader)
	null := asn1.RawValue{FullBytes: []byte{5, 0}}
	mit := testAuthPack(tb, ec, []KDF{KDFSHA1, KDFSHA256, KDFSHA512})
	mit.SupportedCMSTypes = []pkix.AlgorithmIdentifier{{Algorithm: oidECDSAWithSHA256}, {Algorithm: oidSHA512WithRSA, Parameters: null},
		{Algorithm: oidSHA256WithRSA, Parameters: null}, {Algorithm: oidSHA1WithRSA, Parameters: null}}
	mit.PKAuthenticator.FreshnessToken = make([]byte, 150)
	mit.PKAuthenticator.PAChecksum2 = &PAChecksum2{Checksum: make([]byte, 32), Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256}}
	heimdal := testAuthPack(tb, dh, nil)
	heimdal.ClientDHNonce = make([]byte, 32)
	windows := testAuthPack(tb, nil, nil)
	windows.SupportedCMSTypes = []pkix.AlgorithmIdentifier{{Algorithm: oidSHA1WithRSA, Parameters: null}}
	windows.PKAuthenticator.FreshnessToken = []byte{1, 2, 3}
	windows.PKAuthenticator.Nonce, windows.PKAuthenticator.Cusec = 0xffffffff, 999999
	empty := testAuthPack(tb, ec, []KDF{})
	empty.SupportedCMSTypes, empty.ClientDHNonce = []pkix.AlgorithmIdentifier{}, []byte{}
	empty.PKAuthenticator.PAChecksum, empty.PKAuthenticator.FreshnessToken = []byte{}, []byte{}
	empty.PKAuthenticator.PAChecksum2 = &PAChecksum2{Checksum: []byte{}, Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA1, Parameters: asn1.RawValue{FullBytes: []byte{0x30, 0}}}}
	empty.PKAuthenticator.Nonce, empty.PKAuthenticator.Cusec = 0, 0
	return []*AuthPack{mit, heimdal, windows, empty}
}

// TestAuthPackDecoderMatches holds ParseAuthPack and ParsePKASReq to the
// encoding/asn1 decoders they replaced, over the recorded and generated
// requests, and over those with an extension element added at the end of
// their outer SEQUENCE.
func TestAuthPackDecoderMatches(t *testing.T) {
	reqs, aps := requestVectors(t)
	for _, b := range aps {
		checkAuthPackMatches(t, b, true)
		checkAuthPackMatches(t, withElement(t, b, []byte{0xa9, 2, 5, 0}), true)
		checkAuthPackMatches(t, withElement(t, b, []byte{0x9f, 0x40, 1, 0}), true) // a high tag number
	}
	for _, b := range reqs {
		checkPKASReqMatches(t, b, true)
		checkPKASReqMatches(t, withElement(t, b, []byte{0xa9, 2, 5, 0}), true)
	}
}

// withElement appends elem to the contents of the SEQUENCE b.
func withElement(t *testing.T, b, elem []byte) []byte {
	in := cryptobyte.String(b)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		t.Fatalf("not a SEQUENCE: %x", b)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(seq); b.AddBytes(elem) })
	return out.BytesOrPanic()
}

// checkAuthPackMatches: whatever ParseAuthPack accepts, the reference
// accepted with the same result; what the reference accepted and its
// encoder writes back exactly (DER of the RFC 4556 types, nothing else),
// ParseAuthPack accepts. mustAccept is for vectors known to be valid.
func checkAuthPackMatches(t *testing.T, b []byte, mustAccept bool) {
	t.Helper()
	got, err := ParseAuthPack(b)
	want, refErr := parseAuthPackRef(b)
	switch {
	case err == nil && refErr != nil:
		t.Fatalf("ParseAuthPack accepts what encoding/asn1 refused (%v): %x", refErr, b)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("ParseAuthPack(%x)\n got %+v\nwant %+v", b, got, want)
	case err != nil && refErr == nil && (mustAccept || canonicalAuthPack(want, b)):
		t.Fatalf("ParseAuthPack refuses what encoding/asn1 read: %v: %x", err, b)
	}
}

func canonicalAuthPack(a *AuthPack, b []byte) bool {
	m, err := a.Marshal()
	return err == nil && bytes.Equal(m, b)
}

func checkPKASReqMatches(t *testing.T, b []byte, mustAccept bool) {
	t.Helper()
	got, err := ParsePKASReq(b)
	want, refErr := parsePKASReqRef(b)
	switch {
	case err == nil && refErr != nil:
		t.Fatalf("ParsePKASReq accepts what encoding/asn1 refused (%v): %x", refErr, b)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("ParsePKASReq(%x)\n got %+v\nwant %+v", b, got, want)
	case err != nil && refErr == nil && mustAccept:
		t.Fatalf("ParsePKASReq refuses what encoding/asn1 read: %v: %x", err, b)
	case err != nil && refErr == nil:
		if m, merr := want.Marshal(); merr == nil && bytes.Equal(m, b) {
			t.Fatalf("ParsePKASReq refuses what encoding/asn1 read: %v: %x", err, b)
		}
	}
}

// minimalAuthPack is an AuthPack of the required fields only, with extra
// (DER contents) appended to the AuthPack SEQUENCE.
func minimalAuthPack(ctime []byte, extra ...byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
				b.AddASN1(tagCtx1Cons, func(b *cryptobyte.Builder) { b.AddBytes(ctime) })
				b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddASN1Int64(7) })
			})
		})
		b.AddBytes(extra)
	})
	return b.BytesOrPanic()
}

// TestAuthPackDecoderRefusesWhatEncodingASN1Misread: the inputs on which
// ParseAuthPack and ParsePKASReq differ from encoding/asn1 on purpose, and
// some on which encoding/asn1's refusals are kept.
func TestAuthPackDecoderRefusesWhatEncodingASN1Misread(t *testing.T) {
	gt := []byte("\x18\x0f20260102030405Z")
	for _, tc := range []struct {
		name    string
		der     []byte
		refOK   bool // whether encoding/asn1 accepted it
		request bool // a PA-PK-AS-REQ, not an AuthPack
	}{
		{"explicit tag around two elements", minimalAuthPack(gt, 0xa3, 5, 4, 0, 5, 1, 0), true, false},
		{"explicit tag shorter than its element", minimalAuthPack(gt, 0xa3, 1, 4, 0), true, false},
		{"optional field around the wrong type", minimalAuthPack(gt, 0xa3, 3, 1, 1, 0xff), true, false},
		{"bytes after the fields that are no element", minimalAuthPack(gt, 5, 5, 0), true, false},
		{"UTCTime ctime", minimalAuthPack([]byte("\x17\x0d260102030405Z")), true, false},
		{"empty element ending the SEQUENCE", minimalAuthPack(gt, 5, 0), false, false},
		{"optional tag primitive and empty", minimalAuthPack(gt, 0x83, 0, 5, 0), false, false},
		{"zero-length explicit tag", minimalAuthPack(gt, 0xa3, 0, 5, 1, 0), false, false},
		{"indefinite length after the fields", minimalAuthPack(gt, 0x30, 0x80, 0, 0), false, false},
		{"fractional ctime", minimalAuthPack([]byte("\x18\x1220260102030405.25Z")), true, false},
		{"empty kdcPkId, no trustedCertifiers", []byte{0x30, 5, 0x80, 1, 0, 0x82, 0}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err, refErr error
			if tc.request {
				_, err = ParsePKASReq(tc.der)
				_, refErr = parsePKASReqRef(tc.der)
			} else {
				_, err = ParseAuthPack(tc.der)
				_, refErr = parseAuthPackRef(tc.der)
			}
			if (refErr == nil) != tc.refOK {
				t.Fatalf("encoding/asn1: %v", refErr)
			}
			// Every input here is refused, except a fractional ctime.
			if wantOK := tc.name == "fractional ctime"; (err == nil) != wantOK {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestParseAuthPackFractionalCTime(t *testing.T) {
	ap, err := ParseAuthPack(minimalAuthPack([]byte("\x18\x1620260102040405.25+0100")))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.UTC); ap.PKAuthenticator.CTime != want {
		t.Errorf("ctime %v", ap.PKAuthenticator.CTime)
	}
}

func FuzzParseAuthPackMatches(f *testing.F) {
	addSeeds(f)
	_, aps := requestVectors(f)
	for _, b := range aps {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAuthPackMatches(t, b, false) })
}

func FuzzParsePKASReqMatches(f *testing.F) {
	addSeeds(f)
	reqs, _ := requestVectors(f)
	for _, b := range reqs {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkPKASReqMatches(t, b, false) })
}
