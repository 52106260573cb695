package kdc

import (
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sclogon/sclogon/krberror"
)

// rejection is why the KDC refuses a request: the code and e-data the client
// sees, and the reason the audit log records (which may say more than the
// client is told).
type rejection struct {
	code   krberror.Code
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

func reject(code krberror.Code, err error, format string, args ...any) *rejection {
	return &rejection{code: code, reason: fmt.Sprintf(format, args...), err: err}
}

// asRejection finds the rejection in err, or makes a KRB_ERR_GENERIC one.
func asRejection(err error) *rejection {
	var r *rejection
	if errors.As(err, &r) {
		return r
	}
	return &rejection{code: krberror.Generic, reason: "internal error", err: err}
}

// krbError encodes a KRB-ERROR (RFC 4120 §5.9.1) from the KDC of realm. It
// names the server and client of the request it answers (names), as MIT's
// and Windows' KDCs do: a client reports "server … not found" with the name
// it asked for. Without a request, the server is krbtgt/realm.
func krbError(realm string, names reqNames, code krberror.Code, text string, edata []byte, now time.Time) []byte {
	krbtgt := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm)
	srealm, sname := realm, krbtgt
	if names.hasS {
		sname = names.sname
		if names.realm != "" {
			srealm = names.realm
		}
	}
	now = now.UTC()
	e := messages.KRBError{
		PVNO:      5, // RFC 4120 §5.9.1
		MsgType:   msgtype.KRB_ERROR,
		STime:     now.Truncate(time.Second),
		Susec:     now.Nanosecond() / 1000,
		ErrorCode: int32(code),
		Realm:     srealm,
		SName:     sname,
		EText:     text,
		EData:     edata,
	}
	if names.hasC && names.realm != "" {
		e.CName, e.CRealm = names.cname, names.realm
	}
	b, err := marshalKRBError(&e)
	if err != nil {
		// Any bytes make a GeneralString, so only the time can fail here
		// (a clock outside the years 0–9999), and then the bare code from
		// krbtgt fails too: there is no reply, as there was none when
		// gokrb5 encoded it.
		e = messages.KRBError{PVNO: 5, MsgType: msgtype.KRB_ERROR, STime: e.STime, Susec: e.Susec,
			ErrorCode: int32(code), Realm: realm, SName: krbtgt}
		b, _ = marshalKRBError(&e)
	}
	return b
}
