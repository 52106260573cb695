package ldap_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/sclogon/sclogon/mapping"
	"github.com/sclogon/sclogon/mapping/internal/mappingtest"
	"github.com/sclogon/sclogon/mapping/ldap"
)

// serverPKI returns a TLS certificate for 127.0.0.1 and the PEM file of the
// CA that issued it.
func serverPKI(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "LDAP test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: key}, path
}

// tlsFront listens on loopback and relays to the slapd at backend behind
// TLS: from the first byte (ldaps) or after answering the StartTLS extended
// operation (RFC 4511 §4.14) itself. The harness's slapd speaks plain LDAP
// only; the client side, which is what is under test, sees a real TLS server.
func tlsFront(t *testing.T, backend string, startTLS bool, cert tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer raw.Close()
				br := bufio.NewReader(raw)
				if startTLS {
					if err := answerStartTLS(br, raw); err != nil {
						return
					}
				}
				front := tls.Server(&bufConn{raw, br}, cfg)
				back, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer back.Close()
				go func() { io.Copy(back, front); back.Close() }()
				io.Copy(front, back)
			}()
		}
	}()
	return ln.Addr().String()
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// answerStartTLS reads one LDAPMessage, checks that it is the StartTLS
// ExtendedRequest, and answers success.
func answerStartTLS(r *bufio.Reader, w io.Writer) error {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return err
	}
	n := int(hdr[1])
	msg := append([]byte(nil), hdr...)
	if n&0x80 != 0 {
		lb := make([]byte, n&0x7f)
		if _, err := io.ReadFull(r, lb); err != nil {
			return err
		}
		msg = append(msg, lb...)
		n = 0
		for _, b := range lb {
			n = n<<8 | int(b)
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	in := cryptobyte.String(append(msg, body...))
	var seq, req, name cryptobyte.String
	var id int64
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Int64WithTag(&id, cbasn1.INTEGER) ||
		!seq.ReadASN1(&req, cbasn1.Tag(23).Constructed()|0x40) || !req.ReadASN1(&name, cbasn1.Tag(0).ContextSpecific()) ||
		string(name) != "1.3.6.1.4.1.1466.20037" {
		return errors.New("not a StartTLS request")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(id)
		b.AddASN1(cbasn1.Tag(24).Constructed()|0x40, func(b *cryptobyte.Builder) {
			b.AddASN1Enum(0)
			b.AddASN1OctetString(nil)
			b.AddASN1OctetString(nil)
		})
	})
	_, err := w.Write(b.BytesOrPanic())
	return err
}

func TestTLS(t *testing.T) {
	f := mappingtest.NewFixture(t)
	l, _ := startDirectory(t, f, 5*time.Second)
	cert, caFile := serverPKI(t)
	_, wrongCA := serverPKI(t)
	ldaps := tlsFront(t, l.Addr, false, cert)
	starttls := tlsFront(t, l.Addr, true, cert)
	c := f.Certs["bob-sr"]
	for _, tc := range []struct {
		name    string
		cfg     ldap.Config
		wantErr string
	}{
		{"ldaps", ldap.Config{URL: "ldaps://" + ldaps}, ""},
		{"starttls", ldap.Config{URL: "ldap://" + starttls, StartTLS: true}, ""},
		{"ldaps-wrong-ca", ldap.Config{URL: "ldaps://" + ldaps, CAFile: wrongCA}, "certificate"},
		{"starttls-wrong-ca", ldap.Config{URL: "ldap://" + starttls, StartTLS: true, CAFile: wrongCA}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.BindDN, cfg.Password, cfg.BaseDN, cfg.Timeout = l.BindDN, l.Password, l.Suffix, 2*time.Second
			if cfg.CAFile == "" {
				cfg.CAFile = caFile
			}
			dir, err := ldap.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			m := mapping.New(dir, mapping.Policy{}, mapping.Options{Now: func() time.Time { return mappingtest.Now }})
			res, err := m.Map(context.Background(), mapping.Request{Cert: c.Cert, Issuer: c.Issuer})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Account.SAMAccountName != "bob" {
				t.Fatalf("mapped to %s", res.Account.DN)
			}
		})
	}
}

// TestSilentServer: a server that accepts and never answers costs one
// timeout, not a hang.
func TestSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	dir, err := ldap.New(ldap.Config{URL: "ldap://" + ln.Addr().String(), BindDN: "cn=x", Password: "y", BaseDN: "dc=example,dc=com", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	start := time.Now()
	_, err = dir.FindByUPN(context.Background(), "alice@example.com")
	if !errors.Is(err, mapping.ErrDirectoryUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []ldap.Config{
		{URL: "http://x", BaseDN: "dc=x"},
		{URL: "ldaps://x", StartTLS: true, BaseDN: "dc=x"},
		{URL: "ldap://x"},
		{URL: "ldap://x", BaseDN: "not a dn"},
		{URL: "ldaps://x", BaseDN: "dc=x", CAFile: "/nonexistent"},
	} {
		if _, err := ldap.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
