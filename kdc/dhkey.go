package kdc

import (
	"time"

	"github.com/sclogon/sclogon/certs"
	"github.com/sclogon/sclogon/pkinit"
)

// dhKeyKind is a MODP group or an ECDH curve.
type dhKeyKind struct {
	group pkinit.Group
	curve pkinit.Curve
}

type cachedDHKey struct {
	key     *pkinit.DHKey
	expires time.Time
}

// reusableDHKey returns a source of the KDC's key for pub's group or curve
// that hands out one key until it expires (RFC 4556 §3.2.3.1 lets the KDC
// reuse its DH key until dhKeyExpiration), and that expiration. Making a
// 2048-bit key costs about as much as the rest of the exchange together.
func (k *KDC) reusableDHKey(pub *pkinit.ClientPublic) (func(*pkinit.ClientPublic) (*pkinit.DHKey, error), time.Time) {
	now := k.now()
	kind := dhKeyKind{group: pub.Group, curve: pub.Curve}
	k.dhMu.Lock()
	defer k.dhMu.Unlock()
	c := k.dhKeys[kind]
	if c == nil || !now.Before(c.expires) {
		key, err := pub.NewKey(k.rand)
		if err != nil {
			return func(*pkinit.ClientPublic) (*pkinit.DHKey, error) { return nil, err }, time.Time{}
		}
		c = &cachedDHKey{key: key, expires: now.Add(k.cfg.DHKeyReuse).UTC().Truncate(time.Second)}
		k.dhKeys[kind] = c
	}
	key := c.key
	return func(*pkinit.ClientPublic) (*pkinit.DHKey, error) { return key, nil }, c.expires
}

// splitSID splits an account SID into its domain SID and RID.
func splitSID(s certs.SID) (certs.SID, uint32, bool) {
	sub := s.SubAuthorities()
	if len(sub) < 2 {
		return certs.SID{}, 0, false
	}
	domain, err := certs.NewSID(s.Authority(), sub[:len(sub)-1]...)
	if err != nil {
		return certs.SID{}, 0, false
	}
	return domain, sub[len(sub)-1], true
}
