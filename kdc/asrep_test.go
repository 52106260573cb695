package kdc

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// asRepCases are AS-REPs the hand-written encoder must write exactly as
// gokrb5 does: with and without PA-DATA and kvno, long ciphertexts (long
// DER lengths), several name components, non-ASCII strings.
func asRepCases() []messages.ASRep {
	tkt := func(realm string, kvno int, cipher int) messages.Ticket {
		return messages.Ticket{TktVNO: 5, Realm: realm,
			SName:   types.PrincipalName{NameType: 2, NameString: []string{"krbtgt", realm}},
			EncPart: types.EncryptedData{EType: 18, KVNO: kvno, Cipher: bytes.Repeat([]byte{0xa5}, cipher)}}
	}
	rep := func(padata types.PADataSequence, realm string, cname types.PrincipalName, t messages.Ticket, enc types.EncryptedData) messages.ASRep {
		return messages.ASRep{KDCRepFields: messages.KDCRepFields{PVNO: 5, MsgType: 11, PAData: padata, CRealm: realm, CName: cname, Ticket: t, EncPart: enc}}
	}
	alice := types.PrincipalName{NameType: 1, NameString: []string{"alice"}}
	return []messages.ASRep{
		rep(types.PADataSequence{{PADataType: 17, PADataValue: bytes.Repeat([]byte{1}, 1500)}}, "EXAMPLE.COM", alice, tkt("EXAMPLE.COM", 2, 900), types.EncryptedData{EType: 18, Cipher: make([]byte, 300)}),
		rep(nil, "EXAMPLE.COM", alice, tkt("EXAMPLE.COM", 0, 10), types.EncryptedData{EType: 17, KVNO: 1, Cipher: []byte{1}}),
		rep(types.PADataSequence{{PADataType: 17, PADataValue: nil}, {PADataType: 19, PADataValue: []byte{0x30, 0}}}, "X", types.PrincipalName{NameType: 10, NameString: []string{"a@b", "c"}},
			tkt("X", 300, 70000), types.EncryptedData{EType: -135, KVNO: 1 << 31, Cipher: make([]byte, 128)}),
		rep(nil, "ÉXAMPLE.COM", types.PrincipalName{NameType: 1, NameString: []string{strings.Repeat("é", 200)}}, tkt("R", 1, 0), types.EncryptedData{}),
		rep(nil, "", types.PrincipalName{}, messages.Ticket{}, types.EncryptedData{}),
	}
}

func nameEqual(a, b types.PrincipalName) bool {
	return a.NameType == b.NameType && slices.Equal(a.NameString, b.NameString)
}

func encEqual(a, b types.EncryptedData) bool {
	return a.EType == b.EType && a.KVNO == b.KVNO && bytes.Equal(a.Cipher, b.Cipher)
}

func TestMarshalASRepMatchesGokrb5(t *testing.T) {
	for i, r := range asRepCases() {
		want, err := r.Marshal()
		if err != nil {
			t.Fatalf("case %d: gokrb5: %v", i, err)
		}
		got, err := marshalASRep(r.PAData, r.CRealm, r.CName, r.Ticket, r.EncPart)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d: the DER differs from gokrb5's:\n got %x\nwant %x", i, got[:min(len(got), 64)], want[:min(len(want), 64)])
		}
		var back messages.ASRep
		if err := back.Unmarshal(got); err != nil {
			t.Fatalf("case %d: gokrb5 cannot read it: %v", i, err)
		}
		if back.PVNO != 5 || back.MsgType != 11 || back.CRealm != r.CRealm || !nameEqual(back.CName, r.CName) ||
			!encEqual(back.EncPart, r.EncPart) || back.Ticket.Realm != r.Ticket.Realm || !nameEqual(back.Ticket.SName, r.Ticket.SName) ||
			!encEqual(back.Ticket.EncPart, r.Ticket.EncPart) || len(back.PAData) != len(r.PAData) {
			t.Errorf("case %d: gokrb5 read back %+v", i, back.KDCRepFields)
		}
	}
}

// TestMarshalEncryptedDataMatchesGokrb5: the freshness token's
// EncryptedData is written as gokrb5's EncryptedData.Marshal writes it,
// with and without kvno, with short and long-form lengths.
func TestMarshalEncryptedDataMatchesGokrb5(t *testing.T) {
	for i, r := range asRepCases() {
		for _, e := range []types.EncryptedData{r.EncPart, r.Ticket.EncPart} {
			want, err := e.Marshal()
			if err != nil {
				t.Fatalf("case %d: gokrb5: %v", i, err)
			}
			got, err := marshalEncryptedData(e)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("case %d: % x\nwant % x", i, got[:min(len(got), 48)], want[:min(len(want), 48)])
			}
		}
	}
}
