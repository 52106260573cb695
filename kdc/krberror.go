package kdc

import (
	"errors"
	"fmt"
	"time"

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
	srealm, sname := realm, types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm)
	if names.hasS {
		sname = names.sname
		if names.realm != "" {
			srealm = names.realm
		}
	}
	e := messages.NewKRBError(sname, srealm, int32(code), text)
	if names.hasC && names.realm != "" {
		e.CName, e.CRealm = names.cname, names.realm
	}
	now = now.UTC()
	e.STime = now.Truncate(time.Second)
	e.Susec = now.Nanosecond() / 1000
	e.EData = edata
	b, err := e.Marshal()
	if err != nil {
		// Only a name or text that is not a GeneralString can fail here:
		// send the bare code from krbtgt instead.
		e = messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, int32(code), "")
		e.STime, e.Susec = now.Truncate(time.Second), now.Nanosecond()/1000
		b, _ = e.Marshal()
	}
	return b
}
