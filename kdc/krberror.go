package kdc

import (
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	errGeneric      = errorcode.KRB_ERR_GENERIC       // 60
	errFieldTooLong = errorcode.KRB_ERR_FIELD_TOOLONG // 61
)

// rejection is why the KDC refuses a request: the code and e-data the client
// sees, and the reason the audit log records (which may say more than the
// client is told).
type rejection struct {
	code   int32
	reason string // for the audit log and e-text
	edata  []byte
	err    error // the underlying error, if any
}

func (r *rejection) Error() string {
	if r.err != nil {
		return fmt.Sprintf("%s: %v", r.reason, r.err)
	}
	return r.reason
}

func (r *rejection) Unwrap() error { return r.err }

func reject(code int32, err error, format string, args ...any) *rejection {
	return &rejection{code: code, reason: fmt.Sprintf(format, args...), err: err}
}

// asRejection finds the rejection in err, or makes a KRB_ERR_GENERIC one.
func asRejection(err error) *rejection {
	var r *rejection
	if errors.As(err, &r) {
		return r
	}
	return &rejection{code: errGeneric, reason: "internal error", err: err}
}

// krbError encodes a KRB-ERROR (RFC 4120 §5.9.1) from the KDC of realm.
func krbError(realm string, code int32, text string, edata []byte, now time.Time) []byte {
	e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, code, text)
	now = now.UTC()
	e.STime = now.Truncate(time.Second)
	e.Susec = now.Nanosecond() / 1000
	e.EData = edata
	b, err := e.Marshal()
	if err != nil {
		// Only a realm or text that is not a GeneralString can fail here;
		// send the bare code instead.
		e.EText, e.EData = "", nil
		b, _ = e.Marshal()
	}
	return b
}
