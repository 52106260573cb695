package kinit_test

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/certs/pki"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pkinit"
)

// TestMITWrongAnchors: a KDC certificate from a CA the client does not trust
// is refused, though MIT signed its reply correctly.
func TestMITWrongAnchors(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	other := newPKI(t, pki.KDC{})
	req := p.aliceRequest(t, kdc.Addr)
	pol, err := policyWithAnchors(other.anchors)
	if err != nil {
		t.Fatal(err)
	}
	req.Policy = pol
	_, err = run(t, newClient(t), req)
	if !errors.Is(err, kinit.ErrKDCNotTrusted) {
		t.Fatalf("got %v, want ErrKDCNotTrusted", err)
	}
}

// TestMITKDCWithoutKDCEKU: a KDC certificate with serverAuth but not
// id-pkinit-KPKdc is refused by default, accepted with kpServerAuth or none.
func TestMITKDCWithoutKDCEKU(t *testing.T) {
	p := newPKI(t, pki.KDC{ExtKeyUsage: []asn1.ObjectIdentifier{certs.OIDExtKeyUsageServerAuth}})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t, kdc.Addr)
	if _, err := run(t, newClient(t), req); !errors.Is(err, kinit.ErrKDCEKU) {
		t.Fatalf("default policy: got %v, want ErrKDCEKU", err)
	}
	for _, eku := range []kinit.EKUCheck{kinit.EKUServerAuth, kinit.EKUNone} {
		req.Policy.EKU = eku
		if _, err := run(t, newClient(t), req); err != nil {
			t.Fatalf("EKU check %d: %v", eku, err)
		}
	}
}

// TestMITKDCName: a KDC certificate for another realm's krbtgt is refused,
// unless its dNSName is a configured pkinit_kdc_hostname.
func TestMITKDCName(t *testing.T) {
	p := newPKI(t, pki.KDC{Realm: "OTHER.ORG", DNSNames: []string{"kdc.example.com"}})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t, kdc.Addr)
	if _, err := run(t, newClient(t), req); !errors.Is(err, kinit.ErrKDCName) {
		t.Fatalf("got %v, want ErrKDCName", err)
	}
	req.Policy.KDCHostnames = []string{"KDC.example.com"}
	if _, err := run(t, newClient(t), req); err != nil {
		t.Fatalf("with pkinit_kdc_hostname: %v", err)
	}
}

// TestMITTamperedSignature puts a proxy between the client and MIT that
// flips the last byte of the KDC's signature in the PA-PK-AS-REP.
func TestMITTamperedSignature(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	proxy := startProxy(t, kdc.Addr, func(reply []byte) []byte {
		var rep messages.ASRep
		if rep.Unmarshal(reply) != nil {
			return reply
		}
		for _, pa := range rep.PAData {
			if pa.PADataType != int32(pkinit.PAPKASRep) {
				continue
			}
			parsed, err := pkinit.ParsePKASRep(pa.PADataValue)
			if err != nil || parsed.DHInfo == nil {
				t.Errorf("proxy: PA-PK-AS-REP: %v", err)
				return reply
			}
			// The signature is the last field of the last SignerInfo.
			sd := parsed.DHInfo.DHSignedData
			i := bytes.Index(reply, sd)
			out := bytes.Clone(reply)
			out[i+len(sd)-1] ^= 0x01
			return out
		}
		return reply
	})
	req := p.aliceRequest(t)
	req.KDCs = []transport.KDC{{Addr: proxy, Network: "tcp"}}
	_, err := run(t, newClient(t), req)
	if !errors.Is(err, pkinit.ErrBadSignature) {
		t.Fatalf("got %v, want pkinit.ErrBadSignature", err)
	}
}

// TestMITFirstKDCDead: the first KDC accepts connections and datagrams but
// never answers; the second answers within the per-KDC timeout.
func TestMITFirstKDCDead(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	dead := startBlackHole(t)
	req := p.aliceRequest(t, dead, kdc.Addr)
	c := newClient(t)
	c.Transport = &transport.Client{Timeout: 300 * time.Millisecond}
	start := time.Now()
	res, err := run(t, c, req)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %s", el)
	}
	if res.KDC != "tcp/"+kdc.Addr {
		t.Fatalf("answered by %s, want %s", res.KDC, kdc.Addr)
	}
}

// TestMITDHParametersRetry: MIT with pkinit_dh_min_bits 4096 refuses
// DH-2048 with TD-DH-PARAMETERS; the client retries once with what it asks.
func TestMITDHParametersRetry(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p, "pkinit_dh_min_bits = 4096")
	res, err := run(t, newClient(t), p.aliceRequest(t, kdc.Addr))
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyExchange.Group != pkinit.MODPGroup16 {
		t.Fatalf("key exchange %s, want DH-4096", res.KeyExchange)
	}
	// A group below the client's own pkinit_dh_min_bits is never offered.
	req := p.aliceRequest(t, kdc.Addr)
	req.KeyExchange = kinit.KeyExchange{Group: pkinit.MODPGroup14}
	req.Policy.DHMinBits = 4096
	if _, err := run(t, newClient(t), req); !errors.Is(err, kinit.ErrPolicy) {
		t.Fatalf("DH-2048 under pkinit_dh_min_bits 4096: got %v, want ErrPolicy", err)
	}
}

// TestMITUnknownPrincipal: a KRB-ERROR becomes a *KDCError with its code.
func TestMITUnknownPrincipal(t *testing.T) {
	p := newPKI(t, pki.KDC{})
	kdc := startMIT(t, p)
	req := p.aliceRequest(t, kdc.Addr)
	req.Client = ccache.Principal{NameType: 1, Components: []string{"mallory"}, Realm: realm}
	_, err := run(t, newClient(t), req)
	var kerr *kinit.KDCError
	if !errors.As(err, &kerr) || kerr.Code != krberror.CPrincipalUnknown {
		t.Fatalf("got %v, want KDC_ERR_C_PRINCIPAL_UNKNOWN", err)
	}
}

// startProxy relays framed TCP Kerberos messages to addr, passing each reply
// through edit.
func startProxy(t *testing.T, addr string, edit func([]byte) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				req, err := transport.ReadFrame(conn, 1<<20)
				if err != nil {
					return
				}
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				if transport.WriteFrame(up, req) != nil {
					return
				}
				reply, err := transport.ReadFrame(up, 1<<20)
				if err != nil {
					return
				}
				_ = transport.WriteFrame(conn, edit(reply))
			}()
		}
	}()
	return ln.Addr().String()
}

// startBlackHole listens on TCP and UDP at one address and never answers.
func startBlackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		pc.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}
