package kdc

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/krberror"
)

// rawField is one [n] EXPLICIT field of a SEQUENCE, its content as sent.
type rawField struct {
	n       int
	content []byte
}

// readRawFields splits a SEQUENCE of explicitly tagged fields.
func readRawFields(tb testing.TB, v cryptobyte.String) []rawField {
	tb.Helper()
	var seq cryptobyte.String
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) {
		tb.Fatal("not a SEQUENCE")
	}
	var out []rawField
	for !seq.Empty() {
		var c cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&c, &tag) {
			tb.Fatal("a field does not decode")
		}
		out = append(out, rawField{int(tag &^ 0xa0), c})
	}
	return out
}

// setRawField sets field n (content nil: removes it), keeping tag order.
func setRawField(fs []rawField, n int, content []byte) []rawField {
	fs = slices.DeleteFunc(fs, func(f rawField) bool { return f.n == n })
	if content != nil {
		fs = append(fs, rawField{n, content})
		slices.SortFunc(fs, func(a, b rawField) int { return a.n - b.n })
	}
	return fs
}

func addRawFields(b *cryptobyte.Builder, fs []rawField) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, f := range fs {
			b.AddASN1(cbasn1.Tag(f.n).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(f.content) })
		}
	})
}

// setKDCReqField re-encodes the KDC-REQ msg with field [n] of the KDC-REQ
// (inBody false) or of its KDC-REQ-BODY (inBody true) set to content, the
// bytes inside [n]; nil content removes the field. It crafts requests no
// encoder would write, such as a one-byte additional-tickets.
func setKDCReqField(tb testing.TB, msg []byte, inBody bool, n int, content []byte) []byte {
	tb.Helper()
	in := cryptobyte.String(msg)
	var app cryptobyte.String
	var appTag cbasn1.Tag
	if !in.ReadAnyASN1(&app, &appTag) {
		tb.Fatal("not a KDC-REQ")
	}
	outer := readRawFields(tb, app)
	if inBody {
		i := slices.IndexFunc(outer, func(f rawField) bool { return f.n == 4 })
		body := setRawField(readRawFields(tb, outer[i].content), n, content)
		var b cryptobyte.Builder
		addRawFields(&b, body)
		outer[i].content = b.BytesOrPanic()
	} else {
		outer = setRawField(outer, n, content)
	}
	var b cryptobyte.Builder
	b.AddASN1(appTag, func(b *cryptobyte.Builder) { addRawFields(b, outer) })
	return b.BytesOrPanic()
}

// testTicket is a Ticket as gokrb5 encodes one.
func testTicket(tb testing.TB) messages.Ticket {
	return messages.Ticket{TktVNO: 5, Realm: "EXAMPLE.COM",
		SName:   types.NewPrincipalName(2, "krbtgt/EXAMPLE.COM"),
		EncPart: types.EncryptedData{EType: 18, KVNO: 2, Cipher: bytes.Repeat([]byte{7}, 40)}}
}

// testKDCReqs are an AS-REQ and a TGS-REQ, written by gokrb5, with every
// optional field of the KDC-REQ-BODY present.
func testKDCReqs(tb testing.TB) (as, tgs []byte) {
	tb.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	body := messages.KDCReqBody{
		KDCOptions: types.NewKrbFlags(),
		CName:      types.NewPrincipalName(1, "alice"),
		Realm:      "EXAMPLE.COM",
		SName:      types.NewPrincipalName(2, "krbtgt/EXAMPLE.COM"),
		From:       now, Till: now.Add(10 * time.Hour), RTime: now.Add(48 * time.Hour),
		Nonce:             1234567,
		EType:             []int32{18, 17, 20},
		Addresses:         []types.HostAddress{{AddrType: 2, Address: []byte{127, 0, 0, 1}}},
		EncAuthData:       types.EncryptedData{EType: 18, KVNO: 1, Cipher: []byte{1, 2, 3}},
		AdditionalTickets: []messages.Ticket{testTicket(tb)},
	}
	asReq := messages.ASReq{KDCReqFields: messages.KDCReqFields{PVNO: 5, MsgType: 10, ReqBody: body,
		PAData: types.PADataSequence{{PADataType: 16, PADataValue: []byte{0x30, 0}}, {PADataType: 128, PADataValue: []byte{0x30, 5, 0xa0, 3, 1, 1, 0xff}}}}}
	as, err := asReq.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	ap := messages.APReq{PVNO: 5, MsgType: 14, APOptions: types.NewKrbFlags(), Ticket: testTicket(tb),
		EncryptedAuthenticator: types.EncryptedData{EType: 18, Cipher: []byte{9, 9, 9}}}
	apb, err := ap.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	tgsReq := messages.TGSReq{KDCReqFields: messages.KDCReqFields{PVNO: 5, MsgType: 12, ReqBody: body,
		PAData: types.PADataSequence{{PADataType: paTGSReq, PADataValue: apb}}}}
	tgs, err = tgsReq.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return as, tgs
}

// derOf wraps content in tag.
func derOf(tag cbasn1.Tag, content ...byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes(content) })
	return b.BytesOrPanic()
}

// TestSplitKDCReq: what gokrb5 writes passes; noise is no KDC-REQ; each
// malformed field is refused by name, with the code RFC 4120 gives it.
func TestSplitKDCReq(t *testing.T) {
	as, tgs := testKDCReqs(t)
	many := cryptobyte.NewBuilder(nil)
	many.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for range maxETypes + 1 {
			b.AddASN1Int64(18)
		}
	})
	krbErr := krbError("EXAMPLE.COM", reqNames{}, krberror.Generic, "x", nil, time.Now())
	for _, tc := range []struct {
		name  string
		msg   []byte
		code  krberror.Code // 0: accepted; -1: not a KDC-REQ
		field string
	}{
		{"as-req", as, 0, ""},
		{"tgs-req", tgs, 0, ""},
		{"one-byte", []byte{0x6a}, -1, ""},
		{"empty", nil, -1, ""},
		{"krb-error", krbErr, -1, ""},
		{"ap-req", derOf(cbasn1.Tag(14).Constructed()|0x40, 0x30, 0), -1, ""},
		{"trailing-byte", append(slices.Clip(as), 0), -1, ""},
		{"truncated", as[:len(as)-1], -1, ""},
		{"empty-as-req", []byte{0x6a, 0}, krberror.Generic, "KDC-REQ"},
		{"additional-tickets-one-byte", setKDCReqField(t, as, true, 11, []byte{0x30}), krberror.Generic, "KDC-REQ.req-body.additional-tickets"},
		{"tgs-additional-tickets-one-byte", setKDCReqField(t, tgs, true, 11, []byte{0x30}), krberror.Generic, "KDC-REQ.req-body.additional-tickets"},
		{"additional-tickets-not-tickets", setKDCReqField(t, as, true, 11, derOf(cbasn1.SEQUENCE, 0x30, 0)), krberror.Generic, "KDC-REQ.req-body.additional-tickets[0]"},
		{"enc-authorization-data-one-byte", setKDCReqField(t, as, true, 10, []byte{0x30}), krberror.Generic, "KDC-REQ.req-body.enc-authorization-data"},
		{"enc-authorization-data-no-cipher", setKDCReqField(t, as, true, 10, derOf(cbasn1.SEQUENCE, 0xa0, 3, 2, 1, 18)), krberror.Generic, "KDC-REQ.req-body.enc-authorization-data.cipher"},
		{"addresses-one-byte", setKDCReqField(t, as, true, 9, []byte{0x30}), krberror.Generic, "KDC-REQ.req-body.addresses"},
		{"etype-strings", setKDCReqField(t, as, true, 8, derOf(cbasn1.SEQUENCE, 0x1b, 1, 'a')), krberror.Generic, "KDC-REQ.req-body.etype[0]"},
		{"etype-too-many", setKDCReqField(t, as, true, 8, many.BytesOrPanic()), krberror.FieldTooLong, "KDC-REQ.req-body.etype"},
		{"etype-missing", setKDCReqField(t, as, true, 8, nil), krberror.Generic, "KDC-REQ.req-body.etype"},
		{"till-not-utc", setKDCReqField(t, as, true, 5, derOf(cbasn1.GeneralizedTime, []byte("20260301120000+0100")...)), krberror.Generic, "KDC-REQ.req-body.till"},
		{"till-invalid-date", setKDCReqField(t, as, true, 5, derOf(cbasn1.GeneralizedTime, []byte("20260231120000Z")...)), krberror.Generic, "KDC-REQ.req-body.till"},
		{"kdc-options-bad-padding", setKDCReqField(t, as, true, 0, derOf(cbasn1.BIT_STRING, 1, 0xff)), krberror.Generic, "KDC-REQ.req-body.kdc-options"},
		{"realm-utf8", setKDCReqField(t, as, true, 2, derOf(cbasn1.UTF8String, 'X')), krberror.Generic, "KDC-REQ.req-body.realm"},
		{"nonce-non-minimal", setKDCReqField(t, as, true, 7, []byte{2, 2, 0, 1}), krberror.Generic, "KDC-REQ.req-body.nonce"},
		{"nonce-huge", setKDCReqField(t, as, true, 7, []byte{2, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0}), krberror.Generic, "KDC-REQ.req-body.nonce"},
		{"unknown-body-field", setKDCReqField(t, as, true, 12, []byte{5, 0}), krberror.Generic, "KDC-REQ.req-body"},
		{"two-elements-in-a-field", setKDCReqField(t, as, true, 7, []byte{2, 1, 1, 2, 1, 1}), krberror.Generic, "KDC-REQ.req-body.nonce"},
		{"padata-one-byte", setKDCReqField(t, as, false, 3, []byte{0x30}), krberror.Generic, "KDC-REQ.padata"},
		{"padata-value-not-octets", setKDCReqField(t, as, false, 3, derOf(cbasn1.SEQUENCE, derOf(cbasn1.SEQUENCE, 0xa1, 3, 2, 1, 16, 0xa2, 2, 5, 0)...)), krberror.Generic, "KDC-REQ.padata[0].padata-value"},
		{"pa-tgs-req-one-byte", setKDCReqField(t, tgs, false, 3, derOf(cbasn1.SEQUENCE, derOf(cbasn1.SEQUENCE, 0xa1, 3, 2, 1, 1, 0xa2, 3, 4, 1, 0x6e)...)), krberror.Generic, "KDC-REQ.padata[0].padata-value.ap-req"},
		{"pvno-4", setKDCReqField(t, as, false, 1, []byte{2, 1, 4}), krberror.BadPVNO, "KDC-REQ.pvno"},
		{"msg-type-mismatch", setKDCReqField(t, as, false, 2, []byte{2, 1, 12}), krberror.APMsgType, "KDC-REQ.msg-type"},
		{"no-req-body", setKDCReqField(t, as, false, 4, nil), krberror.Generic, "KDC-REQ.req-body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := splitKDCReq(tc.msg)
			var m *malformedError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code == 0 && !bytes.Contains(tc.msg, raw.reqBody):
				t.Fatal("req-body not returned")
			case tc.code == -1 && !errors.Is(err, errNotKDCReq):
				t.Fatalf("got %v, want errNotKDCReq", err)
			case tc.code > 0 && !errors.As(err, &m):
				t.Fatalf("got %v, want a malformedError", err)
			case tc.code > 0 && (m.code != tc.code || m.field != tc.field):
				t.Fatalf("got code %d at %q (%v), want %d at %q", m.code, m.field, err, tc.code, tc.field)
			}
		})
	}
}

// FuzzSplitKDCReq: splitKDCReq never panics, and what it passes gokrb5
// decodes without error or panic, the AP-REQ of a TGS-REQ included.
func FuzzSplitKDCReq(f *testing.F) {
	as, tgs := testKDCReqs(f)
	f.Add(as)
	f.Add(tgs)
	f.Add(setKDCReqField(f, as, true, 11, []byte{0x30}))
	f.Add(setKDCReqField(f, tgs, true, 10, []byte{0x30, 0}))
	f.Add(setKDCReqField(f, tgs, false, 3, []byte{0x30, 3, 0x30, 1, 0}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		raw, err := splitKDCReq(msg)
		if err != nil {
			return
		}
		var fields messages.KDCReqFields
		if raw.msgTag == tagASReq {
			var req messages.ASReq
			err, fields = req.Unmarshal(msg), req.KDCReqFields
		} else {
			var req messages.TGSReq
			err, fields = req.Unmarshal(msg), req.KDCReqFields
		}
		if err != nil {
			t.Fatalf("passed, yet gokrb5 refuses it: %v", err)
		}
		for _, pa := range fields.PAData {
			if raw.msgTag == tagTGSReq && pa.PADataType == paTGSReq {
				var ap messages.APReq
				if err := ap.Unmarshal(pa.PADataValue); err != nil {
					t.Fatalf("passed, yet gokrb5 refuses its AP-REQ: %v", err)
				}
			}
		}
	})
}
