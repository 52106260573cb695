package kinit

import (
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/krberror"
)

// KDCError is a KRB-ERROR the KDC answered with (RFC 4120 §5.9.1). Code is
// the error-code; Text the e-text, if the KDC sent one; EData the raw e-data.
type KDCError struct {
	Code  krberror.Code
	Text  string
	EData []byte
	// Realm and KDC say who answered.
	Realm string
	KDC   string
	// KeyExchange is what the refused PKINIT request offered; nil when the
	// error answers another request.
	KeyExchange *KeyExchange
}

func (e *KDCError) Error() string {
	if e.Text != "" {
		return fmt.Sprintf("kinit: KDC %s answered %v: %s", e.KDC, e.Code, e.Text)
	}
	return fmt.Sprintf("kinit: KDC %s answered %v: %s", e.KDC, e.Code, e.Code.Reason())
}

// Rejections of the KDC's reply. Every reply-verification failure wraps one of
// these (test with errors.Is); pkinit's own errors (pkinit.ErrBadSignature,
// pkinit.ErrNonceMismatch, pkinit.ErrASChecksumMismatch …) are wrapped as well.
var (
	// ErrKDCNotTrusted: the KDC's certificate does not chain to the anchors.
	ErrKDCNotTrusted = errors.New("kinit: the KDC's certificate is not trusted")
	// ErrKDCEKU: the KDC's certificate lacks the EKU the policy requires.
	ErrKDCEKU = errors.New("kinit: the KDC's certificate is not a KDC certificate")
	// ErrKDCName: the KDC's certificate does not name krbtgt/REALM nor a
	// configured KDC host name.
	ErrKDCName = errors.New("kinit: the KDC's certificate names another KDC")
	// ErrKDCRevoked: the KDC's certificate is revoked, or its status could not
	// be established when the policy requires it.
	ErrKDCRevoked = errors.New("kinit: the KDC's certificate failed its revocation check")
	// ErrReplyMismatch: the AS-REP or TGS-REP does not answer our request
	// (nonce, names, times), or does not decrypt with the reply key.
	ErrReplyMismatch = errors.New("kinit: the KDC's reply does not match the request")
	// ErrSkew: the KDC's clock and ours differ by more than the allowed skew.
	ErrSkew = errors.New("kinit: clock skew too great")
	// ErrNoPKINIT: the KDC did not answer with a PA-PK-AS-REP.
	ErrNoPKINIT = errors.New("kinit: the KDC did not use PKINIT")
	// ErrPolicy: the request or the KDC's demand goes against local policy
	// (a DH group below pkinit_dh_min_bits, a certificate pkinit_cert_match refuses).
	ErrPolicy = errors.New("kinit: refused by local policy")
	// ErrMalformed: a message from the KDC does not decode.
	ErrMalformed = errors.New("kinit: malformed reply from the KDC")
)
