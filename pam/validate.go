package pam

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/ccache"
)

// ErrNotValidated: the service ticket for the host does not decrypt with the
// host keytab, or says something else than the KDC's reply: the answer did
// not come from the realm's KDC, and nobody is logged on.
var ErrNotValidated = errors.New("pam: the KDC could not be validated against the host keytab")

// ErrWrongClient: the KDC issued the TGT to another principal than PAM_USER's.
var ErrWrongClient = errors.New("pam: the ticket belongs to another principal")

// ErrKeytab: the host keytab cannot be read.
var ErrKeytab = errors.New("pam: host keytab")

// Keytab is a host keytab in memory.
type Keytab struct {
	kt   *keytab.Keytab
	path string
}

// ReadKeytab loads an MIT keytab (format 0x0502).
func ReadKeytab(path string) (kt *Keytab, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeytab, err)
	}
	defer clear(data)
	// gokrb5's parser slices without bounds checks.
	defer func() {
		if recover() != nil {
			kt, err = nil, fmt.Errorf("%w %s is malformed", ErrKeytab, path)
		}
	}()
	k := keytab.New()
	if err := k.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrKeytab, path, err)
	}
	return &Keytab{kt: k, path: path}, nil
}

// Validate checks the service ticket the KDC issued for host together with
// client's TGT: the ticket is for host, decrypts with host's key from kt,
// names client, carries the session key the KDC's reply gave (so reply and
// ticket were made by the same key holder) and is valid at now.
func Validate(svc ccache.Credential, host, client ccache.Principal, kt *Keytab, now time.Time) error {
	if !samePrincipal(svc.Server, host) {
		return fmt.Errorf("%w: the service ticket is for %s, not %s", ErrNotValidated, svc.Server, host)
	}
	var tkt messages.Ticket
	if err := tkt.Unmarshal(svc.Ticket); err != nil {
		return fmt.Errorf("%w: the service ticket does not parse: %v", ErrNotValidated, err)
	}
	if tkt.Realm != host.Realm || !slices.Equal(tkt.SName.NameString, host.Components) {
		return fmt.Errorf("%w: the ticket names %v@%s, not %s", ErrNotValidated, tkt.SName.NameString, tkt.Realm, host)
	}
	key, _, err := kt.kt.GetEncryptionKey(tkt.SName, host.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		return fmt.Errorf("%w: the keytab %s has no key for %s (etype %d, kvno %d); export it from the KDC", ErrNotValidated, kt.path, host, tkt.EncPart.EType, tkt.EncPart.KVNO)
	}
	defer clear(key.KeyValue)
	if err := tkt.Decrypt(key); err != nil {
		return fmt.Errorf("%w: the ticket for %s does not decrypt with the keytab's key: the KDC does not hold this host's key", ErrNotValidated, host)
	}
	enc := tkt.DecryptedEncPart
	defer clear(enc.Key.KeyValue)
	if enc.CRealm != client.Realm || !slices.Equal(enc.CName.NameString, client.Components) {
		return fmt.Errorf("%w: the host ticket is for %v@%s, the TGT for %s", ErrNotValidated, enc.CName.NameString, enc.CRealm, client)
	}
	if enc.Key.KeyType != svc.Key.EType || !bytes.Equal(enc.Key.KeyValue, svc.Key.Value) {
		return fmt.Errorf("%w: the host ticket's session key is not the one in the KDC's reply", ErrNotValidated)
	}
	start := enc.StartTime
	if start.IsZero() {
		start = enc.AuthTime
	}
	const skew = 5 * time.Minute
	if now.Add(skew).Before(start) || !now.Before(enc.EndTime.Add(skew)) {
		return fmt.Errorf("%w: the host ticket is valid from %s to %s, not now (%s)", ErrNotValidated,
			start.UTC().Format(time.RFC3339), enc.EndTime.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func samePrincipal(a, b ccache.Principal) bool {
	return a.Realm == b.Realm && slices.Equal(a.Components, b.Components)
}

// checkClient refuses a TGT issued to anyone but the hinted account: the
// very name for a plain one; for an enterprise name, the name the KDC
// resolved it to (RFC 6806 §5: the reply carries the account's own name,
// and the KDC checked that the certificate maps to it), in the same realm.
func checkClient(res *kinit.Result, hint selection.Hint) error {
	want := hint.Principal
	same := samePrincipal(res.Client, want) && samePrincipal(res.TGT.Client, want)
	if hint.Enterprise() {
		same = res.Client.Realm == want.Realm && len(res.Client.Components) == 1 && samePrincipal(res.TGT.Client, res.Client)
	}
	if !same {
		return fmt.Errorf("%w: the KDC issued it to %s, the logon is for %s", ErrWrongClient, res.Client, want)
	}
	return nil
}
