package kdc_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	krbcrypto "github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/integration/harness"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/mapping/ldap"
)

const krbtgt = "krbtgt/" + realm + "@" + realm

// realmKeys is a slapd holding a realm's keys and the master key file the
// KDCs of the realm share.
type realmKeys struct {
	slapd  *harness.LDAP
	master string // the master key file
}

func startRealmKeys(t *testing.T) *realmKeys {
	t.Helper()
	r := &realmKeys{slapd: harness.StartSlapd(t, harness.SlapdConfig{}), master: filepath.Join(t.TempDir(), "master.key")}
	if err := kdc.WriteMasterKey(r.master, rand.Reader); err != nil {
		t.Fatal(err)
	}
	return r
}

// directory is a connection of its own, as each KDC process has.
func (r *realmKeys) directory(t *testing.T) *ldap.Directory {
	t.Helper()
	d, err := ldap.New(ldap.Config{URL: r.slapd.URL, BindDN: r.slapd.BindDN, Password: r.slapd.Password, BaseDN: r.slapd.Suffix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// backend is the LDAP key backend of one KDC, under the master key file at path.
func (r *realmKeys) backend(t *testing.T, path string) kdc.KeyBackend {
	t.Helper()
	mk, err := kdc.ReadMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := kdc.NewLDAPKeys(r.directory(t), "", mk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// config is the fixture's KDC configuration with its keys in the directory.
func (r *realmKeys) config(t *testing.T, f *pkiFixture) kdc.Config {
	t.Helper()
	cfg := f.config(t)
	cfg.StateDir = ""
	cfg.KeyBackend = r.backend(t, r.master)
	return cfg
}

// tgsReq asks the KDC at addr for a ticket for sname with the TGT in res
// (renew: a renewal of it); it returns the reply or the KRB-ERROR.
func tgsReq(t *testing.T, addr string, res *asResult, tgt messages.Ticket, key types.EncryptionKey, sname types.PrincipalName, renew bool) (messages.TGSRep, *messages.KRBError) {
	t.Helper()
	conf := config.New()
	conf.LibDefaults.NoAddresses = true
	req, err := messages.NewTGSReq(res.rep.CName, realm, conf, tgt, key, sname, renew)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, addr, msg)
	var rep messages.TGSRep
	if r.err != nil {
		return rep, r.err
	}
	if err := rep.Unmarshal(r.raw); err != nil {
		t.Fatal(err)
	}
	plain, err := krbcrypto.DecryptEncPart(rep.EncPart, key, keyusage.TGS_REP_ENCPART_SESSION_KEY)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.DecryptedEncPart.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	return rep, nil
}

var ws1 = types.PrincipalName{NameType: 3, NameString: []string{"host", "ws1.example.com"}}

// serviceTicket wants a service ticket for ws1 at addr with the TGT of res.
func serviceTicket(t *testing.T, addr string, res *asResult, what string) {
	t.Helper()
	if _, e := tgsReq(t, addr, res, res.rep.Ticket, res.enc.Key, ws1, false); e != nil {
		t.Fatalf("%s: %d %s", what, e.ErrorCode, e.EText)
	}
}

// startTwoKDCs makes two KDCs over one directory at the same moment — the
// race for who creates the realm's keys — and serves them.
func startTwoKDCs(t *testing.T, f *pkiFixture, r *realmKeys) (k1, k2 *runningKDC) {
	t.Helper()
	cfgs := []kdc.Config{r.config(t, f), r.config(t, f)}
	cfgs[0].KeyRefresh, cfgs[1].KeyRefresh = time.Hour, 50*time.Millisecond
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range cfgs {
		wg.Go(func() {
			<-start
			_, errs[i] = kdc.New(cfgs[i], kdc.Options{Rand: rand.Reader})
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("two KDCs starting at once: %v", err)
	}
	// The racers made the keys; these two serve with what is stored.
	return startKDC(t, cfgs[0], kdc.Options{}), startKDC(t, cfgs[1], kdc.Options{})
}

// TestLDAPKeysTwoKDCs: two KDCs over one directory serve with the same
// realm keys; a TGT from one gets a service ticket at the other; after a
// krbtgt rollover on one, both accept the TGTs issued before and after it,
// and the other takes the new kvno up for its own tickets without a restart.
func TestLDAPKeysTwoKDCs(t *testing.T) {
	f := getFixture(t)
	r := startRealmKeys(t)
	k1, k2 := startTwoKDCs(t, f, r)
	for _, p := range []string{krbtgt, "host/ws1.example.com@" + realm} {
		a, _ := k1.Keys().Key(p, 0)
		b, _ := k2.Keys().Key(p, 0)
		if string(a.Value) != string(b.Value) || a.KVNO != 1 {
			t.Fatalf("%s: the KDCs hold different keys (kvno %d, %d)", p, a.KVNO, b.KVNO)
		}
	}
	alice := f.users["alice"]
	oldTGT := asRequest{user: alice, renewable: true}.build(t).asOK(t, k1.addr)
	if kvno := oldTGT.rep.Ticket.EncPart.KVNO; kvno != 1 {
		t.Fatalf("TGT under kvno %d, want 1", kvno)
	}
	serviceTicket(t, k2.addr, oldTGT, "TGT from KDC 1 at KDC 2")

	rolled, err := k1.Keys().Rollover(context.Background(), krbtgt)
	if err != nil {
		t.Fatal(err)
	}
	if rolled.KVNO != 2 {
		t.Fatalf("rollover to kvno %d", rolled.KVNO)
	}
	newTGT := asRequest{user: alice}.build(t).asOK(t, k1.addr)
	if kvno := newTGT.rep.Ticket.EncPart.KVNO; kvno != 2 {
		t.Fatalf("TGT after the rollover under kvno %d, want 2", kvno)
	}
	for _, k := range []*runningKDC{k1, k2} {
		serviceTicket(t, k.addr, oldTGT, "TGT of kvno 1 after the rollover at "+k.addr)
		serviceTicket(t, k.addr, newTGT, "TGT of kvno 2 at "+k.addr)
	}
	// A renewal of the old TGT is a new TGT under the new kvno, its PAC
	// checked with the old key and signed with the new.
	renewed, e := tgsReq(t, k2.addr, oldTGT, oldTGT.rep.Ticket, oldTGT.enc.Key, oldTGT.rep.Ticket.SName, true)
	if e != nil {
		t.Fatalf("renewing the kvno 1 TGT: %d %s", e.ErrorCode, e.EText)
	}
	if renewed.Ticket.EncPart.KVNO != 2 {
		t.Fatalf("renewed TGT under kvno %d, want 2", renewed.Ticket.EncPart.KVNO)
	}
	if _, e := tgsReq(t, k1.addr, oldTGT, renewed.Ticket, renewed.DecryptedEncPart.Key, ws1, false); e != nil {
		t.Fatalf("the renewed TGT at KDC 1: %d %s", e.ErrorCode, e.EText)
	}
	// KDC 2 re-reads its keys every 50ms; a bound, not a speed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		tgt := asRequest{user: alice}.build(t).asOK(t, k2.addr)
		if tgt.rep.Ticket.EncPart.KVNO == 2 {
			serviceTicket(t, k1.addr, tgt, "KDC 2's kvno 2 TGT at KDC 1")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("KDC 2 still issues TGTs under kvno 1")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLDAPKeysRefused: a KDC with another master key, or over sealed keys
// changed in the directory, does not start, with an error naming why; a
// running KDC whose refresh meets tampered keys keeps the keys it had.
func TestLDAPKeysRefused(t *testing.T) {
	f := getFixture(t)
	r := startRealmKeys(t)
	k1 := startKDC(t, r.config(t, f), kdc.Options{})

	other := filepath.Join(t.TempDir(), "other.key")
	if err := kdc.WriteMasterKey(other, rand.Reader); err != nil {
		t.Fatal(err)
	}
	cfg := f.config(t)
	cfg.StateDir, cfg.KeyBackend = "", r.backend(t, other)
	_, err := kdc.New(cfg, kdc.Options{Rand: rand.Reader})
	if !errors.Is(err, kdc.ErrWrongMasterKey) || !strings.Contains(err.Error(), "same master key file") {
		t.Fatalf("a KDC with another master key: %v", err)
	}

	dir := r.directory(t)
	dn := "sclogonPrincipalName=" + krbtgt + ",ou=Kerberos," + r.slapd.Suffix
	es, err := dir.Children(context.Background(), "ou=Kerberos,"+r.slapd.Suffix, ldap.Equal("sclogonPrincipalName", krbtgt), []string{"sclogonPrincipalKey"})
	if err != nil || len(es) != 1 {
		t.Fatalf("krbtgt's entry: %v %v", es, err)
	}
	sealed := es[0].Get("sclogonPrincipalKey")[0]
	bad := append([]byte(nil), sealed...)
	bad[len(bad)-20] ^= 0x80 // in the ciphertext
	if err := dir.Modify(context.Background(), dn, []ldap.Change{
		{Op: ldap.ReplaceValues, Attribute: ldap.Attribute{Name: "sclogonPrincipalKey", Values: [][]byte{bad}}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = kdc.New(r.config(t, f), kdc.Options{Rand: rand.Reader})
	if !errors.Is(err, kdc.ErrKeysTampered) || !strings.Contains(err.Error(), krbtgt) {
		t.Fatalf("a KDC over a tampered krbtgt key: %v", err)
	}
	if err := k1.Keys().Refresh(context.Background()); !errors.Is(err, kdc.ErrKeysTampered) {
		t.Fatalf("refreshing over a tampered key: %v", err)
	}
	alice := f.users["alice"]
	tgt := asRequest{user: alice}.build(t).asOK(t, k1.addr)
	serviceTicket(t, k1.addr, tgt, "the running KDC after a refused refresh")
}

// TestLDAPKeysConfig: keys = ldap in a configuration file opens the keys in
// the [directory] under master_key; it is refused over an LDIF directory,
// without a master key, or with master_key under keys = file.
func TestLDAPKeysConfig(t *testing.T) {
	f := getFixture(t)
	r := startRealmKeys(t)
	dir := configDir(t, f)
	pw := filepath.Join(dir, "ldap.secret")
	if err := os.WriteFile(pw, []byte(r.slapd.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "[kdc]\n realm = EXAMPLE.COM\n certificate = kdc.pem\n key = kdc.key\n anchors = root.pem\n ntauth = issuing.pem\n"
	ldapDir := "[directory]\n url = " + r.slapd.URL + "\n base_dn = " + r.slapd.Suffix + "\n bind_dn = " + r.slapd.BindDN + "\n password_file = ldap.secret\n"
	load := func(name, text string) (*kdc.FileConfig, error) {
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return kdc.LoadConfig(path)
	}
	fc, err := load("ldap", base+" keys = ldap\n master_key = "+r.master+"\n keys_refresh = 30s\n"+ldapDir)
	if err != nil {
		t.Fatal(err)
	}
	if fc.KeyRefresh != 30*time.Second {
		t.Errorf("keys_refresh %v", fc.KeyRefresh)
	}
	ks, err := fc.OpenKeys(context.Background(), rand.Reader, time.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Ensure(krbtgt); err != nil {
		t.Fatal(err)
	}
	if b, ok := fc.KeyBackend.(*kdc.LDAPKeys); !ok || b.Container() != "ou=Kerberos,"+r.slapd.Suffix {
		t.Fatalf("backend %T", fc.KeyBackend)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"ldif", base + " keys = ldap\n master_key = " + r.master + "\n[directory]\n ldif = users.ldif\n", "kdc.keys: ldap needs an LDAP directory"},
		{"no-master-key", base + " keys = ldap\n" + ldapDir, "kdc.master_key: required"},
		{"master-key-with-file", base + " state_dir = state\n master_key = " + r.master + "\n" + ldapDir, "kdc.master_key: only with keys = ldap"},
		{"bad-kind", base + " keys = ldif\n" + ldapDir, "kdc.keys"},
		{"file-without-state", base + ldapDir, "kdc.state_dir: required"},
		{"missing-master-key", base + " keys = ldap\n master_key = nothere.key\n" + ldapDir, "kdc.master_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := load(tc.name, tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// TestLDAPKeysConflicts: what the race of two KDCs rests on. Of two
// creates of one principal's keys the second fails with ErrKeysExist, and
// the store that lost reads the winner's keys; a rollover from keys read
// before another rollover fails with ErrKeysChanged rather than undo it.
func TestLDAPKeysConflicts(t *testing.T) {
	r := startRealmKeys(t)
	ctx := context.Background()
	a, b := r.backend(t, r.master), r.backend(t, r.master)
	sa, err := kdc.NewKeyStore(ctx, a, kdc.KeyStoreOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := kdc.NewKeyStore(ctx, b, kdc.KeyStoreOptions{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Ensure(krbtgt); err != nil {
		t.Fatal(err)
	}
	mine := []kdc.Key{{EType: 18, KVNO: 1, Value: make([]byte, 32)}}
	if err := b.Create(ctx, krbtgt, mine); !errors.Is(err, kdc.ErrKeysExist) {
		t.Fatalf("a second create: %v", err)
	}
	if err := sb.Ensure(krbtgt); err != nil {
		t.Fatal(err)
	}
	ka, _ := sa.Key(krbtgt, 0)
	kb, _ := sb.Key(krbtgt, 0)
	if string(ka.Value) != string(kb.Value) {
		t.Fatal("the second store serves keys of its own")
	}
	stale, _ := sb.Keys(krbtgt)
	if _, err := sa.Rollover(ctx, krbtgt); err != nil {
		t.Fatal(err)
	}
	next := []kdc.Key{{EType: 18, KVNO: 2, Value: make([]byte, 32)}}
	if err := b.Replace(ctx, krbtgt, stale, next); !errors.Is(err, kdc.ErrKeysChanged) {
		t.Fatalf("a rollover over another's: %v", err)
	}
	if err := sb.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if k, ok := sb.KeyVersion(krbtgt, 18, 2); !ok || string(k.Value) == string(next[0].Value) {
		t.Fatal("the second store does not see the first one's kvno 2")
	}
}
