package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ResponderOptions configure [NewResponder].
type ResponderOptions struct {
	Options
	// Cert and Key are a delegated responder (issued by the CA with
	// id-kp-OCSPSigning, see [OCSPResponderProfile]). Nil signs with the
	// issuing CA's own key.
	Cert *x509.Certificate
	Key  crypto.Signer
	// Validity is nextUpdate - thisUpdate; default one hour.
	Validity time.Duration
	// MaxRequests caps the certificates asked about in one request; default 16.
	MaxRequests int
}

// Responder is an RFC 6960 OCSP responder for a [CA], an [http.Handler]
// that answers POST and GET (RFC 6960 Appendix A.1) requests, and serves
// the CA's CRL at /crl. It looks at the CA's index on every request
// (re-reading it only when it changed), so a revocation by another process
// shows at once. It answers for certificates
// of the issuing CA; a CertID naming any other issuer (including the root,
// for the intermediate itself) or a serial it never issued gets "unknown".
// Every response embeds the signing certificate.
type Responder struct {
	ca       *CA
	opts     ResponderOptions
	cert     *x509.Certificate
	key      crypto.Signer
	embedded []*x509.Certificate
}

// NewResponder returns a responder for ca.
func NewResponder(ca *CA, o ResponderOptions) (*Responder, error) {
	if o.Validity <= 0 {
		o.Validity = time.Hour
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 16
	}
	if o.Now == nil {
		o.Now = ca.opts.Now
	}
	if o.Rand == nil {
		o.Rand = ca.opts.Rand
	}
	r := &Responder{ca: ca, opts: o, cert: ca.issuer, key: ca.issuerKey, embedded: []*x509.Certificate{ca.issuer}}
	if (o.Cert == nil) != (o.Key == nil) {
		return nil, errors.New("pki: a delegated responder needs both its certificate and its key")
	}
	if o.Cert != nil {
		if err := o.Cert.CheckSignatureFrom(ca.issuer); err != nil {
			return nil, fmt.Errorf("pki: the responder certificate was not issued by %s: %w", ca.issuer.Subject, err)
		}
		if !hasOCSPSigning(o.Cert) {
			return nil, errors.New("pki: the responder certificate lacks id-kp-OCSPSigning; issue one with 'sclogon pki issue ocsp'")
		}
		r.cert, r.key, r.embedded = o.Cert, o.Key, []*x509.Certificate{o.Cert}
	}
	return r, nil
}

func hasOCSPSigning(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageOCSPSigning {
			return true
		}
	}
	return false
}

const maxRequestSize = 64 << 10

// ServeHTTP answers one OCSP request.
func (r *Responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && strings.TrimSuffix(req.URL.Path, "/") == "/crl" {
		r.serveCRL(w)
		return
	}
	var der []byte
	switch req.Method {
	case http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestSize+1))
		if err != nil || len(b) > maxRequestSize {
			r.write(w, ErrorResponse(ocsp.Malformed))
			return
		}
		der = b
	case http.MethodGet:
		b, ok := decodeGET(req.URL.EscapedPath())
		if !ok {
			r.write(w, ErrorResponse(ocsp.Malformed))
			return
		}
		der = b
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "OCSP requests are GET or POST", http.StatusMethodNotAllowed)
		return
	}
	resp, err := r.Respond(der)
	if err != nil {
		r.write(w, ErrorResponse(ocsp.Malformed))
		return
	}
	r.write(w, resp)
}

// decodeGET finds the base64 request in a GET path; the request itself may
// contain '/' when the client did not percent-encode it.
func decodeGET(p string) ([]byte, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		s, err := url.PathUnescape(p[i+1:])
		if err != nil || s == "" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			if _, err := ParseRequest(b); err == nil {
				return b, true
			}
		}
	}
	return nil, false
}

func (r *Responder) write(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (r *Responder) serveCRL(w http.ResponseWriter) {
	crl, err := r.ca.CRL(r.opts.Validity)
	if err != nil {
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(crl)
}

// Respond answers a DER OCSP request with a signed DER response. Only a
// request that cannot be parsed is an error; everything else is answered.
func (r *Responder) Respond(der []byte) ([]byte, error) {
	req, err := ParseRequest(der)
	if err != nil {
		return nil, err
	}
	if len(req.CertIDs) > r.opts.MaxRequests {
		return nil, fmt.Errorf("pki: OCSP request asks about %d certificates, at most %d allowed", len(req.CertIDs), r.opts.MaxRequests)
	}
	index, err := r.ca.index()
	if err != nil {
		return ErrorResponse(ocsp.InternalError), nil
	}
	now := r.opts.now()
	t := ResponseTemplate{ProducedAt: now, Nonce: req.Nonce, Certificates: r.embedded}
	for _, id := range req.CertIDs {
		s := SingleResponse{CertID: id, Status: ocsp.Unknown, ThisUpdate: now, NextUpdate: now.Add(r.opts.Validity)}
		mine, err := NewCertID(r.ca.issuer, id.Serial, id.Hash)
		if err == nil && bytes.Equal(mine.IssuerNameHash, id.IssuerNameHash) && bytes.Equal(mine.IssuerKeyHash, id.IssuerKeyHash) {
			if rec, ok := index.lookup(serialHex(id.Serial)); ok {
				s.Status = ocsp.Good
				if rec.Revoked {
					s.Status, s.RevokedAt, s.Reason = ocsp.Revoked, rec.RevokedAt, rec.Reason
				}
			}
		}
		t.Responses = append(t.Responses, s)
	}
	return SignResponse(t, r.cert, r.key, r.opts.rand())
}

// Serve runs the responder on ln until ctx ends, then shuts down gracefully.
func (r *Responder) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
