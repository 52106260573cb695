package offline

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sclogon/sclogon/certs/revocation"
)

// Status is a certificate's revocation status as the client learned it
// during an online logon: an OCSP response (RFC 6960) from the responder in
// the certificate's Authority Information Access, kept as received so its
// signature can be checked again when it is used.
type Status struct {
	OCSP []byte    // the DER OCSPResponse
	At   time.Time // when it was received: the time of the online logon
	// Says is what the response said when [Fetch] verified it. It is not
	// stored: [Record] and [Verify] verify OCSP again.
	Says revocation.Status
}

// maxSkew is the clock difference tolerated with the OCSP responder.
const maxSkew = 5 * time.Minute

// maxResponse bounds an OCSP response.
const maxResponse = 64 << 10

// verifyStatus checks st's signature, responder and CertID as of st.At
// (when it was received, so an answer past its nextUpdate can still be
// checked: its age is judged by [Store.MaxStatusAge] instead).
func verifyStatus(st Status, cert, issuer *x509.Certificate) (revocation.Result, error) {
	if len(st.OCSP) == 0 {
		return revocation.Result{}, fmt.Errorf("%w: no OCSP response was recorded", ErrNoStatus)
	}
	r, err := revocation.Verify(st.OCSP, cert, issuer, revocation.VerifyOptions{Now: st.At, MaxSkew: maxSkew, MaxAge: DefaultMaxStatusAge})
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrNoStatus, err)
	}
	return r, nil
}

// Doer sends an HTTP request; *http.Client is one.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Fetch asks the OCSP responder named in cert's AIA about cert, whose
// issuer is the first certificate on its path through intermediates (the
// card's chain, pkinit_pool; may be nil) to anchors, and
// returns the verified answer (good, revoked or unknown) to give to
// [Record]. client nil is http.DefaultClient. rand (nil: crypto/rand) makes
// the request's nonce; a response without one is accepted (pre-signed
// responders, such as AD CS's, send none), a wrong one is not.
func Fetch(ctx context.Context, client Doer, cert *x509.Certificate, intermediates, anchors *x509.CertPool, rand io.Reader, now time.Time) (Status, error) {
	path, err := verifyPath(cert, intermediates, anchors, now)
	if err != nil {
		return Status{}, err
	}
	if len(cert.OCSPServer) == 0 {
		return Status{}, fmt.Errorf("%w: %w", ErrNoStatus, revocation.ErrNoResponder)
	}
	if client == nil {
		client = http.DefaultClient
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	url := cert.OCSPServer[0]
	req, nonce, err := revocation.CreateRequest(cert, path[1], rand)
	if err != nil {
		return Status{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return Status{}, fmt.Errorf("%w: %s: %w", ErrNoStatus, url, err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := client.Do(hreq)
	if err != nil {
		return Status{}, fmt.Errorf("%w: %w", ErrNoStatus, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("%w: %s answered HTTP %s", ErrNoStatus, url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return Status{}, fmt.Errorf("%w: %s: %w", ErrNoStatus, url, err)
	}
	if len(body) > maxResponse {
		return Status{}, fmt.Errorf("%w: the response from %s is larger than %d bytes", ErrNoStatus, url, maxResponse)
	}
	r, err := revocation.Verify(body, cert, path[1], revocation.VerifyOptions{Now: now, MaxSkew: maxSkew, MaxAge: DefaultMaxStatusAge, Nonce: nonce, AllowMissingNonce: true})
	if err != nil {
		return Status{}, fmt.Errorf("%w: %s: %w", ErrNoStatus, url, err)
	}
	return Status{OCSP: body, At: now, Says: r.Status}, nil
}

// verifyPath returns cert's path to anchors through intermediates at now,
// leaf first: at least the leaf and its issuer.
func verifyPath(cert *x509.Certificate, intermediates, anchors *x509.CertPool, now time.Time) ([]*x509.Certificate, error) {
	if anchors == nil {
		return nil, fmt.Errorf("%w: no trust anchors (pkinit_anchors)", ErrChain)
	}
	// Any EKU: the KDC judged the logon EKUs online; Go knows neither the
	// smart card logon nor the PKINIT client EKU.
	paths, err := cert.Verify(x509.VerifyOptions{Roots: anchors, Intermediates: intermediates, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert == cert:
		return nil, fmt.Errorf("%w: %w", ErrExpired, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrChain, err)
	case len(paths[0]) < 2:
		// A self-signed anchor as the user's certificate: nothing issued it.
		return nil, fmt.Errorf("%w: the certificate is itself a trust anchor", ErrChain)
	}
	return paths[0], nil
}
