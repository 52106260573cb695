package kdc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	mrand "math/rand/v2"
	"reflect"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/pkinit"
)

// gokrb5KDCReq decodes msg as the KDC did before it had its own decoder.
func gokrb5KDCReq(msg []byte, msgTag int) (messages.KDCReqFields, error) {
	if msgTag == 12 {
		var r messages.TGSReq
		err := r.Unmarshal(msg)
		return r.KDCReqFields, err
	}
	var r messages.ASReq
	err := r.Unmarshal(msg)
	return r.KDCReqFields, err
}

// decodeMatches checks that, when splitKDCReq accepts msg, the KDC's
// decoder gives exactly what gokrb5's Unmarshal gives, nil and empty
// slices told apart. It reports whether splitKDCReq accepted msg.
func decodeMatches(t *testing.T, msg []byte) bool {
	t.Helper()
	tag, err := kdc.SplitKDCReq(msg)
	if err != nil {
		return false
	}
	got, err := kdc.DecodeKDCReq(msg, tag)
	want, wantErr := gokrb5KDCReq(msg, tag)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%x: the decoder says %v, gokrb5 says %v", msg, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%x: decoded as\n%#v\ngokrb5 decodes it as\n%#v", msg, got, want)
	}
	return true
}

// DER pieces for crafting requests as clients other than gokrb5 write them.
func der(tag cbasn1.Tag, content ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) {
		for _, c := range content {
			b.AddBytes(c)
		}
	})
	return b.BytesOrPanic()
}

func field(n int, content []byte) []byte {
	return der(cbasn1.Tag(n).Constructed().ContextSpecific(), content)
}

func integer(v int64) []byte {
	var b cryptobyte.Builder
	b.AddASN1Int64(v)
	return b.BytesOrPanic()
}

func sequence(elems ...[]byte) []byte { return der(cbasn1.SEQUENCE, elems...) }
func kstring(s string) []byte         { return der(27, []byte(s)) }
func ktime(s string) []byte           { return der(cbasn1.GeneralizedTime, []byte(s)) }
func octets(b []byte) []byte          { return der(cbasn1.OCTET_STRING, b) }
func bits(b ...byte) []byte           { return der(cbasn1.BIT_STRING, b) }

func principal(typ int64, names ...string) []byte {
	var strs [][]byte
	for _, n := range names {
		strs = append(strs, kstring(n))
	}
	return sequence(field(0, integer(typ)), field(1, sequence(strs...)))
}

// encData is EncryptedData, without kvno when kvno is nil.
func encData(etype int64, kvno []byte, cipher []byte) []byte {
	fs := [][]byte{field(0, integer(etype))}
	if kvno != nil {
		fs = append(fs, field(1, kvno))
	}
	return sequence(append(fs, field(2, octets(cipher)))...)
}

func paData(typ int64, value []byte) []byte {
	return sequence(field(1, integer(typ)), field(2, octets(value)))
}

func ticket(realm string, cipher []byte) []byte {
	return der(cbasn1.Tag(1).Constructed()|0x40, sequence(field(0, integer(5)), field(1, kstring(realm)),
		field(2, principal(2, "krbtgt", realm)), field(3, encData(18, integer(3), cipher))))
}

// kdcReq is a KDC-REQ with msg-type tag, padata (absent when nil) and the
// fields of its KDC-REQ-BODY.
func kdcReq(tag int, padata []byte, body ...[]byte) []byte {
	fs := [][]byte{field(1, integer(5)), field(2, integer(int64(tag)))}
	if padata != nil {
		fs = append(fs, field(3, padata))
	}
	fs = append(fs, field(4, sequence(body...)))
	return der(cbasn1.Tag(tag).Constructed()|0x40, sequence(fs...))
}

// shapedKDCReqs are requests shaped as MIT, Heimdal and Windows clients
// shape theirs: kdc-options of 32 bits, MIT's far-off till, negative
// etypes and nonces, NetBIOS addresses, a user-to-user TGS-REQ with two
// additional tickets.
func shapedKDCReqs() [][]byte {
	cipher := bytes.Repeat([]byte{0x5a}, 300) // long enough for long-form lengths
	apReq := der(cbasn1.Tag(14).Constructed()|0x40, sequence(field(0, integer(5)), field(1, integer(14)),
		field(2, bits(0, 0, 0, 0, 0)), field(3, ticket(realm, cipher)), field(4, encData(18, nil, []byte{1, 2, 3}))))
	mit := kdcReq(10, sequence(paData(149, nil), paData(16, cipher)),
		field(0, bits(0, 0x40, 0x81, 0, 0x10)), field(1, principal(1, "alice")), field(2, kstring(realm)),
		field(3, principal(2, "krbtgt", realm)), field(5, ktime("20370913024805Z")), field(6, ktime("20370913024805Z")),
		field(7, integer(0x7fffabcd)), field(8, sequence(integer(18), integer(17), integer(20), integer(19), integer(16), integer(23))))
	heimdal := kdcReq(10, sequence(paData(16, cipher), paData(128, sequence(field(0, der(cbasn1.BOOLEAN, []byte{0xff}))))),
		field(0, bits(0, 0x40, 0x81, 0, 0x10)), field(1, principal(1, "alice")), field(2, kstring(realm)),
		field(3, principal(2, "krbtgt", realm)), field(4, ktime("20260301120000Z")), field(5, ktime("19700101000000Z")),
		field(7, integer(12345)), field(8, sequence(integer(18), integer(17), integer(16), integer(23), integer(1), integer(3))),
		field(9, sequence()))
	windows := kdcReq(10, sequence(paData(128, []byte{0x30, 5, 0xa0, 3, 1, 1, 0xff})),
		field(0, bits(0, 0x40, 0x81, 0, 0x10)), field(1, principal(1, "Alice")), field(2, kstring("example.com")),
		field(3, principal(2, "krbtgt", "example.com")), field(5, ktime("20370913024805Z")), field(6, ktime("20370913024805Z")),
		field(7, integer(-1616563438)), field(8, sequence(integer(18), integer(17), integer(23), integer(24), integer(-135))),
		field(9, sequence(sequence(field(0, integer(20)), field(1, octets([]byte("WS1             ")))))))
	u2u := kdcReq(12, sequence(paData(1, apReq), paData(129, []byte{0x30, 0})),
		field(0, bits(0, 0x40, 0x81, 0, 0x08)), field(2, kstring(realm)), field(3, principal(1, "bob")),
		field(5, ktime("20260302000000Z")), field(7, integer(-1)), field(8, sequence(integer(18))),
		field(10, encData(18, integer(4294967295), nil)),
		field(11, sequence(ticket(realm, cipher), ticket("OTHER.EXAMPLE", []byte{7}))))
	return [][]byte{mit, heimdal, windows, u2u}
}

// oddFields are msg with one field of its KDC-REQ-BODY (inBody) or of the
// KDC-REQ replaced by each value that gokrb5 reads in its own way:
// kdc-options shorter than four bytes, absent and empty names, 8-bit
// strings, times at the edges, nonces and kvnos at the ends of their
// ranges, empty SEQUENCE OFs and OCTET STRINGs.
func oddFields(tb testing.TB, msg []byte) [][]byte {
	var out [][]byte
	set := func(inBody bool, n int, contents ...[]byte) {
		for _, c := range contents {
			out = append(out, kdc.SetKDCReqField(tb, msg, inBody, n, c))
		}
	}
	set(true, 0, bits(0), bits(7, 0x80), bits(0, 0x40), bits(4, 0x40, 0x80, 0x10), bits(0, 1, 2, 3, 4, 5), bits(3, 0, 0, 0, 0x08))
	set(true, 1, nil, principal(1), principal(-1, ""), principal(10, "a", "b", "c", "d"), principal(1, "\xff\x00é\x1b$B"))
	set(true, 2, kstring(""), kstring("\xfe\xffEXAMPLE"))
	set(true, 3, nil, principal(2, "host", "ws1.example.com"))
	set(true, 4, ktime("00000101000000Z"), ktime("20240229235959Z"))
	set(true, 5, ktime("99991231235959Z"), ktime("19700101000000Z"))
	set(true, 6, nil, ktime("20500101000000Z"))
	set(true, 7, integer(0), integer(-1), integer(4294967295), integer(-2147483648), integer(2147483647))
	set(true, 8, sequence(), sequence(integer(-2147483648), integer(2147483647)))
	set(true, 9, sequence(), sequence(sequence(field(0, integer(2)), field(1, octets(nil))),
		sequence(field(0, integer(24)), field(1, octets(bytes.Repeat([]byte{1}, 16))))))
	set(true, 10, encData(18, nil, nil), encData(-1, integer(-2147483648), []byte{1}), encData(17, integer(4294967295), bytes.Repeat([]byte{2}, 200)))
	set(true, 11, sequence(), sequence(ticket(realm, nil)), sequence(ticket("", []byte{1}), ticket(realm, bytes.Repeat([]byte{3}, 130))))
	set(false, 3, nil, sequence(), sequence(paData(-2147483648, nil), paData(2147483647, []byte{0})))
	return out
}

// decodeSeeds are the requests the fuzz targets start from: valid DH,
// ECDH and RSA AS-REQs and a TGS-REQ from the test client, with the fields
// fieldSeeds replaces, the shaped requests and their odd fields.
func decodeSeeds(tb testing.TB) [][]byte {
	fx := getFixture(tb)
	k, err := kdc.New(fx.config(tb), kdc.Options{Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	var seeds [][]byte
	for _, r := range []asRequest{{}, {curve: pkinit.CurveP256}, {rsa: true}, {freshness: []byte{1, 2, 3}}, {renewable: true}} {
		r.user = fx.users["alice"]
		seeds = append(seeds, r.build(tb).msg)
	}
	seeds = append(seeds, validTGSReq(tb, k))
	for _, msg := range seeds[:] {
		for _, s := range fieldSeeds(tb, msg) {
			seeds = append(seeds, s.msg)
		}
	}
	for _, msg := range shapedKDCReqs() {
		seeds = append(seeds, msg)
		seeds = append(seeds, oddFields(tb, msg)...)
	}
	return seeds
}

// TestDecodeKDCReqMatchesGokrb5: the KDC's decoder gives what gokrb5's
// Unmarshal gives for every seed, and for mutations of them that
// splitKDCReq still accepts.
func TestDecodeKDCReqMatchesGokrb5(t *testing.T) {
	seeds := decodeSeeds(t)
	accepted := 0
	for _, msg := range seeds {
		if decodeMatches(t, msg) {
			accepted++
		}
	}
	if accepted < len(seeds)*3/4 {
		t.Fatalf("splitKDCReq accepted only %d of %d seeds", accepted, len(seeds))
	}
	rnd := mrand.New(mrand.NewPCG(5, 6))
	mutants := 0
	for i := range 20000 {
		if decodeMatches(t, mutate(rnd, seeds[i%len(seeds)])) {
			mutants++
		}
	}
	t.Logf("%d of %d seeds and %d of 20000 mutations decoded alike", accepted, len(seeds), mutants)
}

// FuzzDecodeKDCReqMatchesGokrb5 is TestDecodeKDCReqMatchesGokrb5 over
// arbitrary requests:
//
//	go test -run '^$' -fuzz FuzzDecodeKDCReqMatchesGokrb5 -fuzztime 60s -fuzzminimizetime 1x ./kdc
//
// (Without -fuzzminimizetime, most of a minute goes to minimising each new
// input, not to fuzzing.)
func FuzzDecodeKDCReqMatchesGokrb5(f *testing.F) {
	for _, msg := range decodeSeeds(f) {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) { decodeMatches(t, msg) })
}

// BenchmarkDecodeKDCReq decodes a signed PKINIT AS-REQ and a TGS-REQ, by
// hand and by gokrb5's reflection.
func BenchmarkDecodeKDCReq(b *testing.B) {
	fx := getFixture(b)
	k, err := kdc.New(fx.config(b), kdc.Options{Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	for _, req := range []struct {
		name string
		msg  []byte
		tag  int
	}{
		{"AS-REQ", asRequest{user: fx.users["alice"], curve: pkinit.CurveP256}.build(b).msg, 10},
		{"TGS-REQ", validTGSReq(b, k), 12},
	} {
		b.Run(req.name+"/kdc", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := kdc.DecodeKDCReq(req.msg, req.tag); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(req.name+"/gokrb5", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := gokrb5KDCReq(req.msg, req.tag); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPreauthRequired is the first half of BenchmarkASExchange alone:
// an AS-REQ without pre-authentication decoded and answered with
// PREAUTH_REQUIRED, METHOD-DATA and a freshness token, the path this
// file's decoder and encode_error.go's encoders serve.
func BenchmarkPreauthRequired(b *testing.B) {
	k, erin := benchKDC(b)
	var req messages.ASReq
	if err := req.Unmarshal(asRequest{user: erin, client: "erin"}.build(b).msg); err != nil {
		b.Fatal(err)
	}
	req.PAData = nil
	unauth, err := req.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r := k.ServeKerberos(context.Background(), unauth, benchPeer, "tcp"); len(r) == 0 || r[0] != 0x7e {
			b.Fatalf("not a KRB-ERROR: %x", r)
		}
	}
}
