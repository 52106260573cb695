package pam

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/sclogon/sclogon/card/selection"
	"github.com/sclogon/sclogon/certs/revocation"
	"github.com/sclogon/sclogon/kinit"
	"github.com/sclogon/sclogon/kinit/transport"
	"github.com/sclogon/sclogon/krberror"
	"github.com/sclogon/sclogon/pam/offline"
)

// OfflineMessage is what the person is told after an offline logon, as
// SSSD tells its cached logons: the session has no Kerberos ticket.
const OfflineMessage = "Offline logon: no Kerberos ticket"

// offlineStore is the offline logon's store, nil when offline logon is
// off: Logon.Offline, else Config.OfflineDir (owned by root, audited to
// syslog).
func (l *Logon) offlineStore() *offline.Store {
	switch {
	case !l.Config.Offline:
		return nil
	case l.Offline != nil:
		return l.Offline
	}
	return offline.Open(l.Config.OfflineDir, offline.Options{MaxStatusAge: l.Config.OfflineMaxStatusAge})
}

// noTicket is the logon the KDC did not answer with a ticket. With offline
// logon on, a refusal of the certificate as revoked (or of the account as
// disabled) updates the user's record, and when no KDC answered, package
// offline decides. A user never seen online gets the KDC error (with
// offline.ErrNeverOnline), so the stack falls through to a password; any
// other refusal is the offline error alone.
func (l *Logon) noTicket(ctx context.Context, req Request, hint selection.Hint, id kinit.Identity, pol kinit.Policy, err error) (*Result, error) {
	s := l.offlineStore()
	var terr *transport.Error
	var kerr *kinit.KDCError
	switch {
	case s == nil:
		return nil, err
	case errors.As(err, &kerr) && (kerr.Code == krberror.RevokedCertificate || kerr.Code == krberror.ClientRevoked):
		l.recordOnline(ctx, s, req.Account.Name, id, pol, true)
		return nil, err
	case !errors.As(err, &terr) && !errors.Is(err, transport.ErrNoKDC):
		return nil, err
	}
	l.trace("no KDC answered (%v); deciding offline", err)
	on, oerr := offline.Verify(ctx, s, req.Account.Name, id.Signer(), l.now())
	switch {
	case errors.Is(oerr, offline.ErrNeverOnline):
		return nil, fmt.Errorf("%w (%w)", err, oerr)
	case oerr != nil:
		return nil, oerr
	}
	l.trace("offline logon: the card holds the key of the certificate recorded %s; status as of %s", on.Recorded.Format(time.RFC3339), on.StatusAt.Format(time.RFC3339))
	req.conversation().Info(OfflineMessage)
	return &Result{Principal: hint.Principal, Identity: id.Label(), Offline: true}, nil
}

// recordOnline records, for offline logon, the certificate of an online
// logon and its OCSP status, fetched now from the certificate's AIA. After
// the KDC refused it (refused), only a revoked status is recorded, else the
// record is forgotten: that only ever takes access away. A failure costs
// only the offline logon; it is traced.
func (l *Logon) recordOnline(ctx context.Context, s *offline.Store, user string, id kinit.Identity, pol kinit.Policy, refused bool) {
	inter := x509.NewCertPool()
	if pol.Intermediates != nil {
		inter = pol.Intermediates.Clone()
	}
	for _, c := range id.Chain() {
		inter.AddCert(c)
	}
	timeout := l.Config.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := offline.Fetch(fctx, nil, id.Certificate(), inter, pol.Anchors, nil, l.now())
	switch {
	case refused && (err != nil || st.Says != revocation.Revoked):
		if ferr := s.Forget(user); ferr != nil {
			l.trace("offline logon of %s: the KDC refused the certificate, and the record stays: %v", user, ferr)
			return
		}
		l.trace("offline logon of %s forgotten: the KDC refused the certificate (OCSP: %v, %v)", user, st.Says, err)
		return
	case err == nil:
		err = offline.Record(ctx, s, user, id.Certificate(), inter, pol.Anchors, st)
	}
	if err != nil {
		l.trace("offline logon of %s not recorded: %v", user, err)
		return
	}
	l.trace("offline logon of %s: the certificate's status (%v) recorded", user, st.Says)
}
