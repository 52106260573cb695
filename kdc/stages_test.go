package kdc

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// The stages of serveAS and serveTGS, each called alone on an exchange
// filled in by hand: what a stage refuses and what it leaves for the next,
// without a PKI, a directory or a client. The whole exchanges are tested
// end to end in the kdc_test package.

const stageRealm = "EXAMPLE.COM"

var (
	stageNow     = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	stageService = types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "host/ws1.example.com")
	stageKRBTGT  = types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+stageRealm)
	stageAlice   = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice")
)

// stageKDC is a KDC with what the stages below touch: keys for krbtgt and
// one service, a clock stopped at stageNow, a replay cache.
func stageKDC(t *testing.T) *KDC {
	t.Helper()
	now := func() time.Time { return stageNow }
	keys, err := OpenKeyStore(t.TempDir(), rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	k := &KDC{
		realm: stageRealm, krbtgt: "krbtgt/" + stageRealm + "@" + stageRealm,
		keys: keys, now: now, rand: rand.Reader, log: slog.New(slog.DiscardHandler),
		replay: newReplayCache(64), skew: 5 * time.Minute, ticketLife: 10 * time.Hour, renewLife: 7 * 24 * time.Hour,
	}
	for _, p := range []string{k.krbtgt, "host/ws1.example.com@" + stageRealm} {
		if err := keys.Ensure(p); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// wantRefused checks that err is a rejection with code.
func wantRefused(t *testing.T, err error, code krberror.Code) *rejection {
	t.Helper()
	var r *rejection
	if !errors.As(err, &r) {
		t.Fatalf("got %v, want a rejection with %s", err, code.Name())
	}
	if r.code != code {
		t.Fatalf("refused with %s (%v), want %s", r.code.Name(), r, code.Name())
	}
	return r
}

func asReqBytes(t *testing.T, edit func(*messages.KDCReqBody)) []byte {
	t.Helper()
	req := messages.ASReq{KDCReqFields: messages.KDCReqFields{PVNO: 5, MsgType: 10, ReqBody: messages.KDCReqBody{
		KDCOptions: newFlags(), CName: stageAlice, Realm: stageRealm, SName: stageKRBTGT,
		Till: stageNow.Add(10 * time.Hour), Nonce: 7, EType: []int32{18},
	}}}
	edit(&req.ReqBody)
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestASDecode(t *testing.T) {
	k := stageKDC(t)
	decode := func(edit func(*messages.KDCReqBody)) (*asExchange, error) {
		x := &asExchange{k: k, msg: asReqBytes(t, edit), rec: &AuditRecord{}}
		return x, x.decode(context.Background())
	}
	x, err := decode(func(b *messages.KDCReqBody) { b.Till = time.Unix(0, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if !x.body.Till.IsZero() || !x.now.Equal(stageNow) || x.etype != 18 || x.rec.Principal != "alice@"+stageRealm {
		t.Errorf("decoded till %v, now %v, etype %d, audit principal %q", x.body.Till, x.now, x.etype, x.rec.Principal)
	}
	x, err = decode(func(b *messages.KDCReqBody) { b.Realm = "OTHER.ORG" })
	wantRefused(t, err, krberror.WrongRealm)
	if x.rec.Principal != "alice@OTHER.ORG" || x.rec.Service != "krbtgt/EXAMPLE.COM@OTHER.ORG" {
		t.Errorf("a refused request is audited as %q for %q", x.rec.Principal, x.rec.Service)
	}
	_, err = decode(func(b *messages.KDCReqBody) { b.CName = types.PrincipalName{} })
	wantRefused(t, err, krberror.CPrincipalUnknown)
	_, err = decode(func(b *messages.KDCReqBody) {
		b.SName = types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "host/nowhere")
	})
	wantRefused(t, err, krberror.SPrincipalUnknown)
	_, err = decode(func(b *messages.KDCReqBody) { b.EType = []int32{23} })
	wantRefused(t, err, krberror.ETypeNoSupp)
}

func TestASPreauthenticate(t *testing.T) {
	k := stageKDC(t)
	x := &asExchange{k: k, now: stageNow, rec: &AuditRecord{}}
	r := wantRefused(t, x.preauthenticate(context.Background()), krberror.PreauthRequired)
	var offered types.PADataSequence
	if _, err := asn1.Unmarshal(r.edata, &offered); err != nil {
		t.Fatalf("METHOD-DATA: %v", err)
	}
	kinds := map[int32]bool{}
	for _, pa := range offered {
		kinds[pa.PADataType] = true
	}
	if !kinds[int32(pkinit.PAPKASReq)] || !kinds[int32(pkinit.PAASFreshness)] {
		t.Errorf("PREAUTH_REQUIRED offers padata %v, want PA-PK-AS-REQ and PA-AS-FRESHNESS", kinds)
	}

	noPAC, _ := asn1.Marshal(struct {
		IncludePAC bool `asn1:"explicit,tag:0"`
	}{false})
	x.padata = types.PADataSequence{{PADataType: int32(pkinit.PAPKASReq), PADataValue: []byte{1}}, {PADataType: patype.PA_PAC_REQUEST, PADataValue: noPAC}}
	if err := x.preauthenticate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.includePAC || string(x.pkASReq) != "\x01" {
		t.Errorf("includePAC %v, PA-PK-AS-REQ %x", x.includePAC, x.pkASReq)
	}
}

func TestASCheckPKAuthenticator(t *testing.T) {
	k := stageKDC(t)
	check := func(nonce uint32, ctime time.Time) error {
		x := &asExchange{k: k, now: stageNow, rec: &AuditRecord{}, certSum: [32]byte{1}}
		x.body.Nonce = 7
		x.authPack = &pkinit.AuthPack{PKAuthenticator: pkinit.PKAuthenticator{Nonce: nonce, CTime: ctime}}
		return x.checkPKAuthenticator(context.Background())
	}
	wantRefused(t, check(8, stageNow), krberror.PreauthFailed)
	wantRefused(t, check(7, stageNow.Add(-10*time.Minute)), krberror.APSkew)
	if err := check(7, stageNow.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, check(7, stageNow.Add(-time.Minute)), krberror.APRepeat)
}

// stageTicket is a ticket for alice to server, made as the KDC makes them.
func stageTicket(t *testing.T, k *KDC, server types.PrincipalName, edit func(*ticketSpec)) (messages.Ticket, types.EncryptionKey) {
	t.Helper()
	key, _ := k.keys.Key(principalString(server, stageRealm), 0)
	session, err := newSessionKey(18, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spec := ticketSpec{
		Client: stageAlice, CRealm: stageRealm, Server: server, SRealm: stageRealm, ServerKey: key, SessionKey: session,
		Flags: newFlags(flagInitial, flagPreAuthent), AuthTime: stageNow.Add(-time.Hour), StartTime: stageNow.Add(-time.Hour), EndTime: stageNow.Add(time.Hour),
	}
	if edit != nil {
		edit(&spec)
	}
	tkt, err := issueTicket(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tkt, session
}

func TestTGSOpenTicket(t *testing.T) {
	k := stageKDC(t)
	open := func(tkt messages.Ticket, renew bool) (*tgsExchange, error) {
		x := &tgsExchange{k: k, now: stageNow, rec: &AuditRecord{}, renew: renew}
		x.ap.Ticket = tkt
		return x, x.openTicket(context.Background())
	}
	tgt, session := stageTicket(t, k, stageKRBTGT, nil)
	x, err := open(tgt, false)
	if err != nil {
		t.Fatal(err)
	}
	if x.client != "alice@"+stageRealm || x.rec.Principal != x.client || x.rec.Account != x.client || string(x.tkt.Key.KeyValue) != string(session.KeyValue) {
		t.Errorf("opened ticket of %q, audited %q/%q", x.client, x.rec.Principal, x.rec.Account)
	}

	foreign := tgt
	foreign.Realm = "OTHER.ORG"
	_, err = open(foreign, false)
	wantRefused(t, err, krberror.APNotUs)

	svc, _ := stageTicket(t, k, stageService, nil)
	_, err = open(svc, false)
	wantRefused(t, err, krberror.APNotUs)
	if _, err := open(svc, true); err != nil {
		t.Errorf("a service ticket presented for renewal: %v", err)
	}

	oldKVNO := tgt
	oldKVNO.EncPart.KVNO = 99
	_, err = open(oldKVNO, false)
	wantRefused(t, err, krberror.APBadKeyVer)

	tampered := tgt
	tampered.EncPart.Cipher = append([]byte(nil), tgt.EncPart.Cipher...)
	tampered.EncPart.Cipher[20] ^= 1
	_, err = open(tampered, false)
	wantRefused(t, err, krberror.APBadIntegrity)
}

func TestTGSCheckAuthenticator(t *testing.T) {
	k := stageKDC(t)
	session, _ := newSessionKey(18, rand.Reader)
	reqBody := []byte("the KDC-REQ-BODY as received")
	check := func(edit func(*types.Authenticator), body []byte) error {
		auth, _ := types.NewAuthenticator(stageRealm, stageAlice)
		auth.CTime, auth.Cusec = stageNow, 0
		sum, err := crypto.GetChksumEtype(16)
		if err != nil {
			t.Fatal(err)
		}
		cksum, err := sum.GetChecksumHash(session.KeyValue, reqBody, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR_CHKSUM)
		if err != nil {
			t.Fatal(err)
		}
		auth.Cksum = types.Checksum{CksumType: 16, Checksum: cksum}
		if edit != nil {
			edit(&auth)
		}
		plain, err := auth.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		x := &tgsExchange{k: k, now: stageNow, rec: &AuditRecord{}, client: "alice@" + stageRealm, raw: rawKDCReq{reqBody: body}}
		x.tkt.Key = session
		if x.ap.EncryptedAuthenticator, err = crypto.GetEncryptedData(plain, session, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR, 0); err != nil {
			t.Fatal(err)
		}
		return x.checkAuthenticator(context.Background())
	}
	if err := check(nil, reqBody); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, check(nil, reqBody), krberror.APRepeat)
	wantRefused(t, check(func(a *types.Authenticator) { a.Cusec = 1 }, []byte("another body")), krberror.APModified)
	wantRefused(t, check(func(a *types.Authenticator) {
		a.Cusec = 2
		a.CName = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "mallory")
	}, reqBody), krberror.APBadMatch)
	wantRefused(t, check(func(a *types.Authenticator) { a.CTime = stageNow.Add(time.Hour) }, reqBody), krberror.APSkew)
	wantRefused(t, check(func(a *types.Authenticator) { a.Cusec = 3; a.Cksum = types.Checksum{} }, reqBody), krberror.APInappCksum)
	wantRefused(t, check(func(a *types.Authenticator) { a.Cusec = 4; a.Cksum.CksumType = 1 }, reqBody), krberror.APInappCksum) // CRC32: unkeyed
}

func TestTGSCheckTicketTimes(t *testing.T) {
	k := stageKDC(t)
	check := func(start, end time.Time, renew bool) error {
		x := &tgsExchange{k: k, now: stageNow, renew: renew}
		x.tkt.StartTime, x.tkt.EndTime = start, end
		return x.checkTicketTimes(context.Background())
	}
	ago, ahead := stageNow.Add(-time.Hour), stageNow.Add(time.Hour)
	if err := check(ago, ahead, false); err != nil {
		t.Fatal(err)
	}
	if err := check(time.Time{}, stageNow.Add(time.Minute-k.skew), false); err != nil {
		t.Errorf("an expiry within the skew: %v", err)
	}
	wantRefused(t, check(ago, stageNow.Add(-k.skew), false), krberror.APTktExpired)
	if err := check(ago, ago, true); err != nil {
		t.Errorf("an expired ticket presented for renewal: %v", err)
	}
	wantRefused(t, check(stageNow.Add(k.skew+time.Second), ahead, false), krberror.APTktNYV)
}

func TestTGSResolveServer(t *testing.T) {
	k := stageKDC(t)
	resolve := func(realm string, sname types.PrincipalName, renew bool) (*tgsExchange, error) {
		x := &tgsExchange{k: k, now: stageNow, rec: &AuditRecord{}, renew: renew}
		x.body.Realm, x.body.SName = realm, sname
		x.ap.Ticket = messages.Ticket{Realm: stageRealm, SName: stageKRBTGT}
		x.tkt.CName, x.tkt.CRealm = stageAlice, stageRealm
		return x, x.resolveServer(context.Background())
	}
	x, err := resolve(stageRealm, stageService, false)
	if err != nil {
		t.Fatal(err)
	}
	if x.rec.Service != "host/ws1.example.com@"+stageRealm || len(x.spec.ServerKey.Value) == 0 || x.spec.Client.NameString[0] != "alice" {
		t.Errorf("resolved %q with a key of %d bytes for %v", x.rec.Service, len(x.spec.ServerKey.Value), x.spec.Client)
	}
	x, err = resolve(stageRealm, stageService, true)
	if err != nil || x.rec.Service != "krbtgt/"+stageRealm+"@"+stageRealm {
		t.Errorf("a renewal is for the presented ticket's server: %q, %v", x.rec.Service, err)
	}
	_, err = resolve("OTHER.ORG", stageService, false)
	wantRefused(t, err, krberror.WrongRealm)
	_, err = resolve(stageRealm, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/OTHER.ORG"), false)
	wantRefused(t, err, krberror.SPrincipalUnknown)
	_, err = resolve(stageRealm, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "host/nowhere"), false)
	wantRefused(t, err, krberror.SPrincipalUnknown)
}

// A ticket without a PAC gives a ticket without one; a PAC that is not
// one is the client's doing, refused as a modified ticket.
func TestTGSResignPAC(t *testing.T) {
	k := stageKDC(t)
	key, _ := k.keys.Key("host/ws1.example.com@"+stageRealm, 0)
	x := &tgsExchange{k: k}
	x.spec.ServerKey = key
	if err := x.resignPAC(context.Background()); err != nil || x.spec.AuthData != nil {
		t.Fatalf("no PAC: %v, authorization data %v", err, x.spec.AuthData)
	}
	const adIfRelevant, adWin2kPAC = 1, 128
	inner, err := asn1.Marshal(types.AuthorizationData{{ADType: adWin2kPAC, ADData: []byte("not a PAC")}})
	if err != nil {
		t.Fatal(err)
	}
	x.tkt.AuthorizationData = types.AuthorizationData{{ADType: adIfRelevant, ADData: inner}}
	wantRefused(t, x.resignPAC(context.Background()), krberror.APModified)
}
