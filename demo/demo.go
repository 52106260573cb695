// Package demo runs a whole smart-card logon in one process, on embedded
// defaults: a test CA, a software PIV card holding alice's key, a KDC with an
// LDIF directory, and the client — the same code as `sclogon kinit`,
// `sclogon kdc` and `sclogon vcard`, wired together in memory. Call [Run].
package demo

import (
	"context"
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
	out := opt.Out
	if out == nil {
		out = io.Discard
	}
	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(out, "%2d. %s\n", step, fmt.Sprintf(format, args...))
	}
	detail := func(format string, args ...any) { fmt.Fprintf(out, "    %s\n", fmt.Sprintf(format, args...)) }

	dir := opt.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "sclogon-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}

	// 1. The PKI, as AD Certificate Services would have it.
	ca, err := pki.Init(filepath.Join(dir, "ca"), pki.InitOptions{Name: "Example Root CA", Intermediate: true, KeyType: pki.P256})
	if err != nil {
		return nil, err
	}
	kdcKey, err := pki.GenerateKey(pki.P256, rand.Reader)
	if err != nil {
		return nil, err
	}
	kdcProfile, err := pki.KDCProfile(pki.KDC{Realm: realm, DNSNames: []string{"kdc.example.com"}})
	if err != nil {
		return nil, err
	}
	kdcCert, err := ca.Issue(kdcKey.Public(), kdcProfile)
	if err != nil {
		return nil, err
	}
	say("Test PKI: %q under %q (that issuing CA is the NTAuth store)", ca.Issuer().Subject.CommonName, ca.Root().Subject.CommonName)
	detail("KDC certificate %q: EKU id-pkinit-KPKdc, SAN krbtgt/%s@%s", kdcCert.Subject.CommonName, realm, realm)

	// 2. alice's card: the key is made for the card and never leaves it.
	sid, err := certs.NewSID(5, 21, 1111, 2222, 3333, 1104)
	if err != nil {
		return nil, err
	}
	aliceKey, err := pki.GenerateKey(pki.RSA2048, rand.Reader)
	if err != nil {
		return nil, err
	}
	userProfile, err := pki.UserProfile(pki.User{UPN: upn, SID: sid})
	if err != nil {
		return nil, err
	}
	aliceCert, err := ca.Issue(aliceKey.Public(), userProfile)
	if err != nil {
		return nil, err
	}
	state, err := vcard.NewState(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := state.SetKey(vcard.SlotAuthentication, aliceKey, vcard.PINPolicyOnce); err != nil {
		return nil, err
	}
	if err := state.SetCertificate(vcard.SlotAuthentication, aliceCert.Raw); err != nil {
		return nil, err
	}
	statePath := filepath.Join(dir, "alice.card")
	if err := state.Save(statePath); err != nil {
		return nil, err
	}
	apdus := 0
	soft := vcard.New(state, vcard.Options{Rand: rand.Reader, Save: func(s *vcard.State) error { return s.Save(statePath) },
		Observe: func(vcard.Exchange) { apdus++ }})
	say("Software PIV card: alice's RSA-2048 key and certificate in slot 9A, PIN %s", vcard.DefaultPIN)
	detail("certificate: UPN %s, SID extension %s (KB5014754), EKU smart card logon", upn, sid)

	// 3. The directory and the KDC.
	entries := fmt.Sprintf("dn: cn=alice,cn=Users,dc=example,dc=com\nobjectClass: user\ncn: alice\nsn: Liddell\nsAMAccountName: %s\nuserPrincipalName: %s\nobjectSid:: %s\nuserAccountControl: 512\n",
		user, upn, base64.StdEncoding.EncodeToString(sid.Marshal()))
	directory, err := ldif.Read(strings.NewReader(entries))
	if err != nil {
		return nil, err
	}
	audit := &lockedBuffer{}
	k, err := kdc.New(kdc.Config{
		Realm:         realm,
		StateDir:      filepath.Join(dir, "kdc"),
		Certificate:   []*x509.Certificate{kdcCert, ca.Issuer()},
		Key:           kdcKey,
		Anchors:       []*x509.Certificate{ca.Root()},
		Intermediates: []*x509.Certificate{ca.Issuer()},
		NTAuth:        []*x509.Certificate{ca.Issuer()},
		Directory:     directory,
		Mapping:       mapping.Policy{Enforcement: mapping.EnforcementFull, SIDTrustedCAs: []*x509.Certificate{ca.Issuer()}},
		OCSP:          kdc.OCSPOff,
		Services:      []string{service + "@" + realm},
		DHKeyReuse:    time.Minute,
	}, kdc.Options{Rand: rand.Reader, Audit: audit, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	running, err := kdc.Start(k, []string{"127.0.0.1:0"}, nil)
	if err != nil {
		return nil, err
	}
	defer running.Stop()
	addr := running.Addr()
	say("KDC for %s on %s (UDP and TCP), directory: 1 account from LDIF", realm, addr)
	detail("checks: CMS signature, path to the root, NTAuth, EKU, KB5014754 strong mapping (full enforcement)")

	// 4. The client reads the card and picks a logon certificate.
	c, err := apdu.Open(soft, "software card", apdu.Options{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	id, err := c.ID()
	if err != nil {
		return nil, err
	}
	list, err := c.Certificates()
	if err != nil {
		return nil, err
	}
	usable := logon.Usable(logon.Policy{}.CheckAll(list))
	if len(usable) != 1 {
		return nil, fmt.Errorf("demo: %d usable certificates on the card, want 1", len(usable))
	}
	chosen := usable[0]
	label := chosen.Label
	say("Card %s: %d certificate(s); %s in slot %s is fit for logon", id, len(list), label, chosen.Slot)

	retries, err := c.PINRetries()
	if err != nil {
		return nil, err
	}
	ident := identity.NewCard(c, chosen.Slot, chosen.Cert, label, identity.CardOptions{
		PIN: func(label string, tries int) (*card.PIN, error) {
			fmt.Fprintf(out, "    PIN for %s (%d tries left): %s  (the demo types the card's PIN)\n", label, tries, strings.Repeat("*", len(vcard.DefaultPIN)))
			return card.NewPIN([]byte(vcard.DefaultPIN))
		},
	})
	defer ident.Close()
	say("PIN: the card says %d tries left; the PIN is asked once, when the card first signs", retries)

	// 5. The PKINIT AS exchange and a service ticket.
	anchors := x509.NewCertPool()
	anchors.AddCert(ca.Root())
	client := &kinit.Client{Transport: &transport.Client{Timeout: 5 * time.Second}, Trace: func(format string, args ...any) {
		fmt.Fprintf(out, "    %s\n", fmt.Sprintf(format, args...))
	}}
	svc, err := kinit.ServiceName(service, realm)
	if err != nil {
		return nil, err
	}
	before := apdus
	say("PKINIT: AS-REQ signed on the card, DH-2048 key agreement, the KDC's reply verified")
	res, err := client.Run(ctx, kinit.Request{
		Client:   ccache.Principal{NameType: 1, Components: []string{user}, Realm: realm},
		Identity: ident,
		Services: []ccache.Principal{svc},
		Policy:   kinit.Policy{Anchors: anchors, DHMinBits: 2048, MaxSkew: 5 * time.Minute},
		KDCs:     []transport.KDC{{Addr: addr}},
	})
	if err != nil {
		return nil, err
	}
	detail("card: %d APDUs for the logon, %d VERIFY", apdus-before, ident.Verifies())

	var records []kdc.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(audit.String()), "\n") {
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
			say("KDC: certificate %q mapped to account %s by %s (%s), key exchange %s, %.1f ms", r.Subject, r.Account, r.Mapping, strength, r.KeyExch, r.DurationMS)
		}
	}

	cc := res.CCache()
	say("Tickets for %s:", cc.Principal)
	for _, cr := range cc.Credentials {
		detail("%-36s valid until %s", cr.Server.String(), cr.EndTime.Local().Format("2006-01-02 15:04:05"))
	}
	if opt.CCache != "" {
		// Any cache type MIT names: FILE, DIR, KEYRING, KCM.
		c, err := ccache.Open(opt.CCache, ccache.Environment(nil))
		if err != nil {
			return nil, err
		}
		if err := c.Store(cc); err != nil {
			return nil, err
		}
		say("Credential cache written to %s: MIT klist, kvno and ssh (GSSAPI) use it", c.Name())
	} else {
		say("Set KRB5CCNAME to keep the tickets in a ccache that MIT klist reads")
	}
	return &Result{CCache: cc, Audit: records}, nil
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
