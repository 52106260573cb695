package kdc

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// gokrb5Marshal is the reference encoding: gokrb5's reflection-based
// asn1.Marshal of the tagged struct, under the application tag.
func gokrb5Marshal(t *testing.T, v any, appTag int) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatalf("asn1.Marshal: %v", err)
	}
	return asn1tools.AddASNAppTag(b, appTag)
}

var (
	encodeT0 = time.Date(2026, 12, 1, 23, 59, 58, 0, time.UTC)
	encodeT1 = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// encTicketPartCases have and lack each optional field, carry long
// authorization data (long DER lengths), odd bit strings, non-ASCII names
// and times at the edges of GeneralizedTime.
func encTicketPartCases() []encTicketPart {
	alice := types.PrincipalName{NameType: 1, NameString: []string{"alice"}}
	return []encTicketPart{
		{Flags: newFlags(flagForwardable, flagInitial, flagPreAuthent, flagHWAuthent), Key: types.EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{7}, 32)},
			CRealm: "EXAMPLE.COM", CName: alice, Transited: messages.TransitedEncoding{TRType: 1, Contents: []byte{}},
			AuthTime: encodeT0, StartTime: encodeT0, EndTime: encodeT0.Add(10 * time.Hour), RenewTill: encodeT0.Add(7 * 24 * time.Hour),
			AuthorizationData: types.AuthorizationData{{ADType: 1, ADData: bytes.Repeat([]byte{0x30}, 1200)}}},
		{Flags: asn1.BitString{Bytes: []byte{0x80}, BitLength: 1}, Key: types.EncryptionKey{KeyType: 17, KeyValue: make([]byte, 16)},
			CRealm: "ÉXAMPLE.COM", CName: types.PrincipalName{NameType: 10, NameString: []string{strings.Repeat("é", 100), "x"}},
			Transited: messages.TransitedEncoding{TRType: 0, Contents: nil}, AuthTime: encodeT0, EndTime: encodeT1},
		{Flags: newFlags(), CAddr: types.HostAddresses{{AddrType: 2, Address: []byte{127, 0, 0, 1}}}, AuthorizationData: types.AuthorizationData{},
			AuthTime: time.Time{}, EndTime: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), Key: types.EncryptionKey{KeyType: -1 << 31}},
	}
}

func TestEncodeEncTicketPartMatchesGokrb5(t *testing.T) {
	for i, p := range encTicketPartCases() {
		want := gokrb5Marshal(t, p, asnAppTag.EncTicketPart)
		got, err := marshalEncTicketPart(p)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: the DER differs from gokrb5's:\n got %x\nwant %x", i, got, want)
		}
		var back messages.EncTicketPart
		if err := back.Unmarshal(got); err != nil {
			t.Fatalf("case %d: gokrb5 cannot read it: %v", i, err)
		}
		if back.CRealm != p.CRealm || !nameEqual(back.CName, p.CName) || !back.EndTime.Equal(p.EndTime) || !back.StartTime.Equal(p.StartTime) ||
			!bytes.Equal(back.Key.KeyValue, p.Key.KeyValue) || !bytes.Equal(back.Flags.Bytes, p.Flags.Bytes) || len(back.AuthorizationData) != len(p.AuthorizationData) {
			t.Errorf("case %d: gokrb5 read back %+v", i, back)
		}
	}
}

func encKDCRepPartCases() []encKDCRepPart {
	krbtgt := types.PrincipalName{NameType: 2, NameString: []string{"krbtgt", "EXAMPLE.COM"}}
	return []encKDCRepPart{
		{Key: types.EncryptionKey{KeyType: 18, KeyValue: bytes.Repeat([]byte{9}, 32)}, LastReqs: []messages.LastReq{{LRType: 0, LRValue: encodeT0}},
			Nonce: 0x7fffffff, Flags: newFlags(flagInitial, flagPreAuthent, flagEncPARep), AuthTime: encodeT0, StartTime: encodeT0,
			EndTime: encodeT0.Add(time.Hour), RenewTill: encodeT0.Add(time.Hour), SRealm: "EXAMPLE.COM", SName: krbtgt},
		{Key: types.EncryptionKey{KeyType: 17, KeyValue: make([]byte, 16)}, LastReqs: []messages.LastReq{}, Nonce: -5, KeyExpiration: encodeT1,
			Flags: asn1.BitString{Bytes: []byte{0xff, 0xc0}, BitLength: 10}, AuthTime: encodeT0, EndTime: encodeT1, SRealm: "R", SName: types.PrincipalName{},
			CAddr:     []types.HostAddress{{AddrType: 2, Address: []byte{10, 0, 0, 1}}, {AddrType: 24, Address: make([]byte, 16)}},
			EncPAData: types.PADataSequence{{PADataType: 149, PADataValue: bytes.Repeat([]byte{1}, 300)}}},
		{Nonce: 0, LastReqs: nil, EncPAData: types.PADataSequence{}, AuthTime: time.Time{}, EndTime: time.Time{}},
	}
}

func TestEncodeEncKDCRepPartMatchesGokrb5(t *testing.T) {
	for i, p := range encKDCRepPartCases() {
		for _, tag := range []int{asnAppTag.EncASRepPart, asnAppTag.EncTGSRepPart} {
			want := gokrb5Marshal(t, p, tag)
			got, err := marshalEncKDCRepPart(p, tag)
			if err != nil {
				t.Fatalf("case %d tag %d: %v", i, tag, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("case %d tag %d: the DER differs from gokrb5's:\n got %x\nwant %x", i, tag, got, want)
			}
			var back messages.EncKDCRepPart
			if err := back.Unmarshal(got); err != nil {
				t.Fatalf("case %d tag %d: gokrb5 cannot read it: %v", i, tag, err)
			}
			if back.Nonce != p.Nonce || back.SRealm != p.SRealm || !nameEqual(back.SName, p.SName) || !back.EndTime.Equal(p.EndTime) ||
				!bytes.Equal(back.Key.KeyValue, p.Key.KeyValue) || len(back.EncPAData) != len(p.EncPAData) || len(back.CAddr) != len(p.CAddr) {
				t.Errorf("case %d tag %d: gokrb5 read back %+v", i, tag, back)
			}
		}
	}
}

// TestEncodeTimeOutOfRange: a year GeneralizedTime cannot hold fails, as
// asn1.Marshal fails, rather than writing a malformed time.
func TestEncodeTimeOutOfRange(t *testing.T) {
	p := encTicketPartCases()[0]
	p.EndTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := asn1.Marshal(p); err == nil {
		t.Fatal("asn1.Marshal accepted year 10000; the reference changed")
	}
	if _, err := marshalEncTicketPart(p); err == nil {
		t.Fatal("marshalEncTicketPart accepted year 10000")
	}
}

func BenchmarkEncodeEncTicketPart(b *testing.B) {
	p := encTicketPartCases()[0]
	b.Run("cryptobyte", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalEncTicketPart(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := asn1.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeEncKDCRepPart(b *testing.B) {
	p := encKDCRepPartCases()[0]
	b.Run("cryptobyte", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalEncKDCRepPart(p, asnAppTag.EncASRepPart); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := asn1.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
