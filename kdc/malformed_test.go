package kdc_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/krberror"
)

// TestOneByteAdditionalTickets: an AS-REQ and a TGS-REQ whose
// additional-tickets field holds one byte (which panics gokrb5's parser)
// get a KRB-ERROR naming the field, over TCP and UDP, and an audit line;
// neither log has a stack trace or an ERROR line. The same requests with a
// well-formed field of the kind get past the check.
func TestOneByteAdditionalTickets(t *testing.T) {
	fx := getFixture(t)
	var logs harness.Buffer
	k := startKDC(t, fx.config(t), kdc.Options{Log: newTextLog(&logs)})
	as := asRequest{user: fx.users["alice"]}.build(t).msg
	tgs := validTGSReq(t, k.KDC)
	udp, err := net.Dial("udp", k.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, tc := range []struct {
		kind string
		msg  []byte
	}{{"AS", as}, {"TGS", tgs}} {
		msg := kdc.SetKDCReqField(t, tc.msg, true, 11, []byte{0x30})
		for _, network := range []string{"tcp", "udp"} {
			var reply []byte
			if network == "tcp" {
				reply = exchangeTCP(t, k.addr, msg)
			} else {
				udp.Write(msg)
				reply = readDatagram(udp, 10*time.Second)
			}
			if len(reply) == 0 || errorCode(t, reply) != krberror.Generic {
				t.Fatalf("%s-REQ over %s: reply %x, want KRB_ERR_GENERIC", tc.kind, network, reply)
			}
			rec := auditRecords(t, k)[len(auditRecords(t, k))-1]
			if rec.Type != tc.kind || rec.Network != network || rec.Code != krberror.Generic ||
				!strings.Contains(rec.Reason, "malformed "+tc.kind+"-REQ: KDC-REQ.req-body.additional-tickets") {
				t.Fatalf("audit record %+v", rec)
			}
		}
	}
	for name, log := range map[string]string{"server": k.serverLog.String(), "KDC": logs.String()} {
		if strings.Contains(log, "goroutine ") || strings.Contains(log, "panicked") || strings.Contains(log, "level=ERROR") {
			t.Errorf("the %s log:\n%s", name, log)
		}
	}

	// The fields gokrb5 parses by hand or not at all: cut to one byte,
	// refused by name; well-formed, judged by the AS and TGS stages.
	for _, seed := range append(fieldSeeds(t, as), fieldSeeds(t, tgs)...) {
		exchangeTCP(t, k.addr, seed.msg)
		recs := auditRecords(t, k)
		reason := recs[len(recs)-1].Reason
		if refused := strings.Contains(reason, "malformed"); refused != seed.malformed || refused && !strings.Contains(reason, seed.field+":") {
			t.Errorf("%s (one byte: %t): audit reason %q", seed.field, seed.malformed, reason)
		}
	}
}
