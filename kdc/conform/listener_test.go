package conform

import (
	"context"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"
	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// useTGT takes the TGT out of a correct AS-REP and sends a TGS-REQ with it.
func (c *wireClient) useTGT(t *testing.T, k *KDC, reply []byte) {
	t.Helper()
	var rep messages.ASRep
	if err := rep.Unmarshal(reply); err != nil {
		t.Fatal(err)
	}
	pk := c.parsePKASRep(t, rep)
	key, ok := c.inspectDH(t, k.pki, pk, defects{})
	if !ok {
		t.Fatal("no reply key")
	}
	plain, err := krbcrypto.DecryptEncPart(rep.EncPart, types.EncryptionKey{KeyType: key.KeyType, KeyValue: key.KeyValue}, keyusage.AS_REP_ENCPART)
	if err != nil {
		t.Fatal(err)
	}
	var part messages.EncKDCRepPart
	if err := part.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	tgs, err := messages.NewTGSReq(c.body.CName, k.realm, config.New(), rep.Ticket, part.Key,
		types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "host/ws1.conform.test"), false)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tgs.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var e messages.KRBError
	if err := e.Unmarshal(k.ServeKerberos(context.Background(), msg, netipZero, "tcp")); err != nil || e.ErrorCode != 7 {
		t.Fatalf("TGS-REQ: %v %+v", err, e)
	}
}

// TestConformListener: clients by hand get the control first, then the
// faults that apply to their exchange, in order; a TGS-REQ with the
// control's TGT marks it accepted, a fault whose TGT is never used is
// refused, and faults for exchanges not seen are n/a.
func TestConformListener(t *testing.T) {
	p, err := NewPKI(t.TempDir(), testRealm, PKIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := FaultByName("kdc-signature")
	nonce, _ := FaultByName("as-rep-nonce")
	ecdhFault, _ := FaultByName("ecdh-point-off-curve")
	k.Schedule([]Fault{Control, sig, nonce, ecdhFault})

	var replies [][]byte
	var clients []*wireClient
	for range 3 {
		c := newWireClient(t, p, ExchangeMODP)
		clients = append(clients, c)
		replies = append(replies, k.ServeKerberos(context.Background(), c.msg, netipZero, "udp"))
	}
	if got := clients[1].inspect(t, p, replies[1]).names(); len(got) != 1 || got[0] != "kdc-signature" {
		t.Fatalf("second request got %v, want the kdc-signature fault", got)
	}
	if !k.Finished() {
		t.Fatal("not finished after every MODP fault was shown")
	}
	clients[0].useTGT(t, k, replies[0])
	rep := k.ListenerReport()
	want := map[string]Outcome{"control": Accepted, "kdc-signature": Refused, "as-rep-nonce": Refused, "ecdh-point-off-curve": NotApplicable}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d rows: %+v", len(rep.Results), rep.Results)
	}
	for _, res := range rep.Results {
		if res.Observed != want[res.Fault] {
			t.Errorf("%s: %s, want %s", res.Fault, res.Observed, want[res.Fault])
		}
	}
	if !rep.Passed() {
		t.Errorf("not passed: %s", rep.Summary())
	}
}
