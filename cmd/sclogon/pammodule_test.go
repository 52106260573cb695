package main

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kinit/ccache"
	"github.com/sclogon/sclogon/pam"
)

// After an offline logon the session gets no KRB5CCNAME (there is no
// ccache), and the log says "offline logon", not an empty KDC and ccache;
// after an online one it gets the ccache.
func TestPAMModuleLoggedOn(t *testing.T) {
	alice := ccache.Principal{NameType: 1, Components: []string{"alice"}, Realm: "EXAMPLE.COM"}
	for _, tc := range []struct {
		name    string
		res     pam.Result
		env     []string
		logWant string
	}{
		{"offline", pam.Result{Principal: alice, Identity: "card slot 9a (alice)", Offline: true}, nil,
			"offline logon as alice@EXAMPLE.COM with card slot 9a (alice): no KDC answered; no ticket, no ccache"},
		{"online", pam.Result{Principal: alice, Identity: "card slot 9a (alice)", KDC: "127.0.0.1:88", CCache: "/tmp/krb5cc_1000", EndTime: time.Now().Add(time.Hour)},
			[]string{"KRB5CCNAME=FILE:/tmp/krb5cc_1000"}, "(KDC 127.0.0.1:88); ccache /tmp/krb5cc_1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var toModule, logOut bytes.Buffer
			log := &pamLog{err: &logOut, tags: "auth alice: "}
			if code := pamModuleLoggedOn(pam.NewModuleConv(strings.NewReader(""), &toModule), log, &tc.res); code != pam.Success {
				t.Fatalf("code %s", code)
			}
			var env []string
			for b := toModule.Bytes(); len(b) >= 5; {
				n := int(binary.BigEndian.Uint32(b[1:5]))
				if b[0] == 'V' {
					env = append(env, string(b[5:5+n]))
				}
				b = b[5+n:]
			}
			if strings.Join(env, ",") != strings.Join(tc.env, ",") {
				t.Errorf("the session's environment got %q, want %q", env, tc.env)
			}
			if got := logOut.String(); !strings.Contains(got, tc.logWant) || strings.Contains(got, "(KDC )") || strings.Contains(got, "ccache  ") {
				t.Errorf("log %q, want %q", got, tc.logWant)
			}
		})
	}
}
