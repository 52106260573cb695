// Package demo runs a whole smart-card logon in one process, on embedded
// defaults: a test CA, a software PIV card holding alice's key, a KDC with an
// LDIF directory, and the client — the same code as `sclogon kinit`,
// `sclogon kdc` and `sclogon vcard`, wired together in memory. Call [Run].
package demo

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sclogon/sclogon/card"
	"github.com/sclogon/sclogon/card/apdu"
	"github.com/sclogon/sclogon/card/vcard"
	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/logon"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kdc"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/identity"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/ldif"
)

const (
	realm   = "EXAMPLE.COM"
	user    = "alice"
	upn     = "alice@example.com"
	service = "host/ws1.example.com"
)

// Options tune the demo.
type Options struct {
	// Dir holds the CA, the card's state and the KDC's keys; empty makes
	// (and removes) a temporary directory.
	Dir string
	// CCache, when set, receives the tickets (FILE: name or path).
	CCache string
	// Out receives the narration.
	Out io.Writer
}

// Result is what the demo obtained.
type Result struct {
	CCache *ccache.CCache
	Audit  []kdc.AuditRecord
}

// Run performs the logon, narrating each step to opt.Out.
func Run(ctx context.Context, opt Options) (*Result, error) {
	d := &demoRun{out: opt.Out, dir: opt.Dir}
	if d.out == nil {
		d.out = io.Discard
	}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "sclogon-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		d.dir = dir
	}
	if err := d.makePKI(); err != nil {
		return nil, err
	}
	if err := d.makeCard(); err != nil {
		return nil, err
	}
	running, err := d.startKDC()
	if err != nil {
		return nil, err
	}
	defer running.Stop()
	c, err := apdu.Open(d.soft, "software card", apdu.Options{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	chosen, err := d.readCard(c)
	if err != nil {
		return nil, err
	}
	ident, err := d.preparePIN(c, chosen)
	if err != nil {
		return nil, err
	}
	defer ident.Close()
	res, err := d.pkinit(ctx, ident)
	if err != nil {
		return nil, err
	}
	records := d.reportKDC()
	cc := res.CCache()
	if err := d.reportTickets(cc, opt.CCache); err != nil {
		return nil, err
	}
	return &Result{CCache: cc, Audit: records}, nil
}

// demoRun is what one run of the demo carries from step to step.
type demoRun struct {
	out  io.Writer
	step int
	dir  string

	ca      *pki.CA
	kdcKey  crypto.Signer
	kdcCert *x509.Certificate
	sid     certs.SID
	soft    *vcard.Card
	apdus   int // exchanged with the software card
	audit   *lockedBuffer
	addr    string // the KDC's
}

// say narrates the next numbered step.
func (d *demoRun) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "%2d. %s\n", d.step, fmt.Sprintf(format, args...))
}

// detail narrates a line under the current step.
func (d *demoRun) detail(format string, args ...any) {
	fmt.Fprintf(d.out, "    %s\n", fmt.Sprintf(format, args...))
}

// makePKI is step 1: the PKI, as AD Certificate Services would have it.
func (d *demoRun) makePKI() error {
	ca, err := pki.Init(filepath.Join(d.dir, "ca"), pki.InitOptions{Name: "Example Root CA", Intermediate: true, KeyType: pki.P256})
	if err != nil {
		return err
	}
	kdcKey, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		return err
	}
	kdcProfile, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		return err
	}
	kdcCert, err := ca.Issue(kdcKey.Public(), kdcProfile)
	if err != nil {
		return err
	}
	d.ca, d.kdcKey, d.kdcCert = ca, kdcKey, kdcCert
	d.say("Test PKI: %q under %q (that issuing CA is the NTAuth store)", ca.Issuer().Subject.CommonName, ca.Root().Subject.CommonName)
	d.detail("KDC certificate %q: EKU id-pkinit-KPKdc, SAN krbtgt/%s@%s", kdcCert.Subject.CommonName, realm, realm)
	return nil
}

// makeCard is step 2: alice's card. The key is made for the card and
// never leaves it.
func (d *demoRun) makeCard() error {
	sid, err := certs.NewSID(5, 21, 1111, 2222, 3333, 1104)
	if err != nil {
		return err
	}
	aliceKey, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		return err
	}
	userProfile, err := pki.UserProfile(pki.User{UPN: upn, SID: sid})
	if err != nil {
		return err
	}
	aliceCert, err := d.ca.Issue(aliceKey.Public(), userProfile)
	if err != nil {
		return err
	}
	state, err := vcard.NewState(rand.Reader)
	if err != nil {
		return err
	}
	if err := state.SetKey(vcard.SlotAuthentication, aliceKey, vcard.PINPolicyOnce); err != nil {
		return err
	}
	if err := state.SetCertificate(vcard.SlotAuthentication, aliceCert.Raw); err != nil {
		return err
	}
	statePath := filepath.Join(d.dir, "alice.card")
	if err := state.Save(statePath); err != nil {
		return err
	}
	d.sid = sid
	d.soft = vcard.New(state, vcard.Options{Rand: rand.Reader, Save: func(s *vcard.State) error { return s.Save(statePath) },
		Observe: func(vcard.Exchange) { d.apdus++ }})
	d.say("Software PIV card: alice's RSA-2048 key and certificate in slot 9A, PIN %s", vcard.DefaultPIN)
	d.detail("certificate: UPN %s, SID extension %s (KB5014754), EKU smart card logon", upn, sid)
	return nil
}

// startKDC is step 3: the directory and the KDC.
func (d *demoRun) startKDC() (*kdc.Running, error) {
	entries := fmt.Sprintf("dn: cn=alice,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: alice\nsn: Liddell\nsAMAccountName: %s\nuserPrincipalName: %s\nobjectSid:: %s\nuserAccountControl: 512\n",
		user, upn, base64.StdEncoding.EncodeToString(d.sid.Marshal()))
	directory, err := ldif.Read(strings.NewReader(entries))
	if err != nil {
		return nil, err
	}
	d.audit = &lockedBuffer{}
	ca := d.ca
	k, err := kdc.New(kdc.Config{
		Realm:         realm,
		StateDir:      filepath.Join(d.dir, "kdc"),
		Certificate:   []*x509.Certificate{d.kdcCert, ca.Issuer()},
		Key:           d.kdcKey,
		Anchors:       []*x509.Certificate{ca.Root()},
		Intermediates: []*x509.Certificate{ca.Issuer()},
		NTAuth:        []*x509.Certificate{ca.Issuer()},
		Directory:     directory,
		Mapping:       mapping.Policy{Enforcement: mapping.EnforcementFull, SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP:          kdc.OCSPOff,
		Services:      []string{service + "@" + realm},
		DHKeyReuse:    time.Minute,
	}, kdc.Options{Rand: rand.Reader, Audit: d.audit, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	running, err := kdc.Start(k, []string{"127.0.0.1:0"}, nil)
	if err != nil {
		return nil, err
	}
	d.addr = running.Addr()
	d.say("KDC for %s on %s (UDP and TCP), directory: 1 account from LDIF", realm, d.addr)
	d.detail("checks: CMS signature, path to the root, NTAuth, EKU, KB5014754 strong mapping (full enforcement)")
	return running, nil
}

// readCard is step 4: the client reads the card and picks a logon
// certificate.
func (d *demoRun) readCard(c card.Card) (logon.Verdict, error) {
	id, err := c.ID()
	if err != nil {
		return logon.Verdict{}, err
	}
	list, err := c.Certificates()
	if err != nil {
		return logon.Verdict{}, err
	}
	usable := logon.Usable(logon.Policy{}.CheckAll(list))
	if len(usable) != 1 {
		return logon.Verdict{}, fmt.Errorf("demo: %d usable certificates on the card, want 1", len(usable))
	}
	chosen := usable[0]
	d.say("Card %s: %d certificate(s); %s in slot %s is fit for logon", id, len(list), chosen.Label, chosen.Slot)
	return chosen, nil
}

// preparePIN is the PIN step: the card's tries left, and an identity that
// types the card's PIN when the card first signs. The caller closes it.
func (d *demoRun) preparePIN(c card.Card, chosen logon.Verdict) (*identity.Card, error) {
	retries, err := c.PINRetries()
	if err != nil {
		return nil, err
	}
	ident := identity.NewCard(c, chosen.Slot, chosen.Cert, chosen.Label, identity.CardOptions{
		PIN: func(label string, tries int) (*card.PIN, error) {
			fmt.Fprintf(d.out, "    PIN for %s (%d tries left): %s  (the demo types the card's PIN)\n", label, tries, strings.Repeat("*", len(vcard.DefaultPIN)))
			return card.NewPIN([]byte(vcard.DefaultPIN))
		},
	})
	d.say("PIN: the card says %d tries left; the PIN is asked once, when the card first signs", retries)
	return ident, nil
}

// pkinit is the PKINIT step: the AS exchange and a service ticket.
func (d *demoRun) pkinit(ctx context.Context, ident *identity.Card) (*kinit.Result, error) {
	anchors := x509.NewCertPool()
	anchors.AddCert(d.ca.Root())
	client := &kinit.Client{Transport: &transport.Client{Timeout: 5 * time.Second}, Trace: d.detail}
	svc, err := kinit.ServiceName(service, realm)
	if err != nil {
		return nil, err
	}
	before := d.apdus
	d.say("PKINIT: AS-REQ signed on the card, DH-2048 key agreement, the KDC's reply verified")
	res, err := client.Run(ctx, kinit.Request{
		Client:   ccache.Principal{NameType: 1, Components: []string{user}, Realm: realm},
		Identity: ident,
		Services: []ccache.Principal{svc},
		Policy:   kinit.Policy{Anchors: anchors, DHMinBits: 2048, MaxSkew: 5 * time.Minute},
		KDCs:     []transport.KDC{{Addr: d.addr}},
	})
	if err != nil {
		return nil, err
	}
	d.detail("card: %d APDUs for the logon, %d VERIFY", d.apdus-before, ident.Verifies())
	return res, nil
}

// reportKDC is the KDC-record step: what the KDC's audit log says of the
// logon. It returns the records.
func (d *demoRun) reportKDC() []kdc.AuditRecord {
	var records []kdc.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(d.audit.String()), "\n") {
		var r kdc.AuditRecord
		if json.Unmarshal([]byte(line), &r) == nil {
			records = append(records, r)
		}
	}
	for _, r := range records {
		if r.Type == "AS" && r.Result == "ok" {
			strength := "weak"
			if r.Strong != nil && *r.Strong {
				strength = "strong"
			}
			d.say("KDC: certificate %q mapped to account %s by %s (%s), key exchange %s, %.1f ms", r.Subject, r.Account, r.Mapping, strength, r.KeyExch, r.DurationMS)
		}
	}
	return records
}

// reportTickets is the tickets and ccache steps: it lists the tickets and
// stores them in the cache named (when one is).
func (d *demoRun) reportTickets(cc *ccache.CCache, name string) error {
	d.say("Tickets for %s:", cc.Principal)
	for _, cr := range cc.Credentials {
		d.detail("%-36s valid until %s", cr.Server.String(), cr.EndTime.Local().Format("2006-01-02 15:04:05"))
	}
	if name == "" {
		d.say("Set KRB5CCNAME to keep the tickets in a ccache that MIT klist reads")
		return nil
	}
	// Any cache type MIT names: FILE, DIR, KEYRING, KCM.
	c, err := ccache.Open(name, ccache.Environment(nil))
	if err != nil {
		return err
	}
	if err := c.Store(cc); err != nil {
		return err
	}
	d.say("Credential cache written to %s: MIT klist, kvno and ssh (GSSAPI) use it", c.Name())
	return nil
}

// lockedBuffer collects the KDC's audit lines, written by its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
