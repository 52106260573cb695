package ccache

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// kcmCache is KCM: (the daemon's default cache for the caller) or
// KCM:NAME (one cache), stored by a KCM daemon behind a Unix socket.
type kcmCache struct {
	name string // "" for the default cache
	env  Env
}

func openKCM(residual string, env Env) (Cache, error) {
	return &kcmCache{name: residual, env: env}, nil
}

func (k *kcmCache) Name() string { return "KCM:" + k.name }

// kcmConn is one connection; the daemon answers requests in order.
type kcmConn struct {
	c       net.Conn
	timeout time.Duration
}

func (k *kcmCache) dial() (*kcmConn, error) {
	path := k.env.KCMSocket
	if path == "" {
		path = DefaultKCMSocket
	}
	if path == "-" {
		return nil, errors.New("ccache: KCM: disabled by kcm_socket = -")
	}
	timeout := k.env.KCMTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("ccache: KCM: no daemon at %s (is sssd-kcm running? kcm_socket in krb5.conf names another socket): %w", path, err)
	}
	return &kcmConn{c: c, timeout: timeout}, nil
}

func (c *kcmConn) Close() error { return c.c.Close() }

func (c *kcmConn) call(req *kcmRequest) ([]byte, error) {
	if err := c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, fmt.Errorf("ccache: KCM: %w", err)
	}
	if _, err := c.c.Write(req.frame()); err != nil {
		return nil, fmt.Errorf("ccache: KCM: send request: %w", err)
	}
	return readKCMReply(c.c)
}

// withConn runs f on a fresh connection.
func withConn[T any](k *kcmCache, f func(*kcmConn) (T, error)) (T, error) {
	c, err := k.dial()
	if err != nil {
		var zero T
		return zero, err
	}
	defer c.Close()
	return f(c)
}

func (c *kcmConn) nameCall(op kcmOp, args ...[]byte) (string, error) {
	req := newKCMRequest(op)
	for _, a := range args {
		req.raw(a)
	}
	p, err := c.call(req)
	if err != nil {
		return "", err
	}
	return parseKCMName(p)
}

// resolve names the cache requests go to: the default cache for KCM:.
func (c *kcmConn) resolve(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	return c.nameCall(kcmOpGetDefaultCache)
}

func (c *kcmConn) principal(name string) (Principal, error) {
	p, err := c.call(newKCMRequest(kcmOpGetPrincipal).name(name))
	if err != nil {
		return Principal{}, err
	}
	return parseKCMPrincipal(p)
}

func (k *kcmCache) Load() (*CCache, error) {
	return withConn(k, func(c *kcmConn) (*CCache, error) {
		name, err := c.resolve(k.name)
		if err != nil {
			return nil, err
		}
		return c.load(name)
	})
}

func (c *kcmConn) load(name string) (*CCache, error) {
	p, err := c.principal(name)
	if err != nil {
		return nil, fmt.Errorf("ccache: KCM:%s: %w", name, err)
	}
	creds, err := c.credentials(name)
	if err != nil {
		return nil, fmt.Errorf("ccache: KCM:%s: %w", name, err)
	}
	cc := &CCache{Principal: p, Credentials: creds}
	if off, err := c.call(newKCMRequest(kcmOpGetKDCOffset).name(name)); err == nil {
		if sec, err := parseKCMOffset(off); err == nil {
			cc.KDCOffset = time.Duration(sec) * time.Second
		}
	}
	return cc, nil
}

// credentials asks for the whole list at once (MIT's extension), falling
// back to one request per credential UUID where the daemon lacks it.
func (c *kcmConn) credentials(name string) ([]Credential, error) {
	p, err := c.call(newKCMRequest(kcmOpGetCredList).name(name))
	if err == nil {
		return parseKCMCredList(p)
	}
	var ke *KCMError
	if !errors.As(err, &ke) || !ke.unsupported() {
		return nil, err
	}
	if p, err = c.call(newKCMRequest(kcmOpGetCredUUIDList).name(name)); err != nil {
		return nil, err
	}
	uuids, err := parseKCMUUIDs(p)
	if err != nil {
		return nil, err
	}
	var creds []Credential
	for _, u := range uuids {
		rec, err := c.call(newKCMRequest(kcmOpGetCredByUUID).name(name).raw(u))
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		cr, err := parseCredential(rec)
		if err != nil {
			return nil, err
		}
		creds = append(creds, cr)
	}
	return creds, nil
}

func (k *kcmCache) Destroy() error {
	_, err := withConn(k, func(c *kcmConn) (struct{}, error) {
		name, err := c.resolve(k.name)
		if err != nil {
			return struct{}{}, err
		}
		_, err = c.call(newKCMRequest(kcmOpDestroy).name(name))
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
		return struct{}{}, err
	})
	return err
}

// Store writes a named cache with REPLACE (atomic in the daemon), or, where
// the daemon lacks it (sssd-kcm 2.8), INITIALIZE and STORE as MIT does: a
// reader racing that write can see the cache partly filled. A Store to KCM:
// fills a fresh cache from GEN_NEW, makes it the default, and only then
// destroys the cache that held the same principal before.
func (k *kcmCache) Store(cc *CCache) error {
	_, err := withConn(k, func(c *kcmConn) (struct{}, error) {
		if k.name != "" {
			return struct{}{}, c.replace(k.name, cc)
		}
		return struct{}{}, c.storeDefault(cc)
	})
	return err
}

func (c *kcmConn) storeDefault(cc *CCache) error {
	subs, err := c.subsidiaries()
	if err != nil {
		return err
	}
	name, err := c.nameCall(kcmOpGenNew)
	if err != nil {
		return err
	}
	if err := c.fill(name, cc); err != nil {
		c.call(newKCMRequest(kcmOpDestroy).name(name))
		return err
	}
	if _, err := c.call(newKCMRequest(kcmOpSetDefaultCache).name(name)); err != nil {
		return fmt.Errorf("ccache: KCM: make %s the default cache: %w", name, err)
	}
	for _, s := range subs {
		if samePrincipal(s.principal, cc.Principal) {
			if _, err := c.call(newKCMRequest(kcmOpDestroy).name(s.name)); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("ccache: KCM: remove the replaced cache %s: %w", s.name, err)
			}
		}
	}
	return nil
}

func (c *kcmConn) replace(name string, cc *CCache) error {
	req := newKCMRequest(kcmOpReplace).name(name).u32(uint32(int32(cc.KDCOffset / time.Second)))
	p, err := marshalPrincipal(cc.Principal)
	if err != nil {
		return err
	}
	req.raw(p).u32(uint32(len(cc.Credentials)))
	for _, cr := range cc.Credentials {
		rec, err := marshalCredential(cr)
		if err != nil {
			return err
		}
		req.u32(uint32(len(rec))).raw(rec)
	}
	_, err = c.call(req)
	var ke *KCMError
	if !errors.As(err, &ke) || !ke.unsupported() {
		return err
	}
	// sssd-kcm 2.8 has no REPLACE: fill the cache in steps, as MIT does, and
	// leave no cache rather than half of one if a step fails.
	if err := c.fill(name, cc); err != nil {
		c.call(newKCMRequest(kcmOpDestroy).name(name))
		return err
	}
	return nil
}

// fill initialises name with cc's principal and stores its credentials.
func (c *kcmConn) fill(name string, cc *CCache) error {
	p, err := marshalPrincipal(cc.Principal)
	if err != nil {
		return err
	}
	if _, err := c.call(newKCMRequest(kcmOpInitialize).name(name).raw(p)); err != nil {
		return fmt.Errorf("ccache: KCM:%s: initialize: %w", name, err)
	}
	if cc.KDCOffset != 0 {
		c.call(newKCMRequest(kcmOpSetKDCOffset).name(name).u32(uint32(int32(cc.KDCOffset / time.Second))))
	}
	for _, cr := range cc.Credentials {
		rec, err := marshalCredential(cr)
		if err != nil {
			return err
		}
		if _, err := c.call(newKCMRequest(kcmOpStore).name(name).raw(rec)); err != nil {
			return fmt.Errorf("ccache: KCM:%s: store %s: %w", name, cr.Server, err)
		}
	}
	return nil
}

// subsidiaries lists the caller's initialised caches in the daemon.
func (c *kcmConn) subsidiaries() ([]subsidiary, error) {
	p, err := c.call(newKCMRequest(kcmOpGetCacheUUIDList))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	uuids, err := parseKCMUUIDs(p)
	if err != nil {
		return nil, err
	}
	var subs []subsidiary
	for _, u := range uuids {
		name, err := c.nameCall(kcmOpGetCacheByUUID, u)
		if err != nil {
			continue // destroyed meanwhile
		}
		if pr, err := c.principal(name); err == nil {
			subs = append(subs, subsidiary{name: name, principal: pr})
		}
	}
	return subs, nil
}

func (k *kcmCache) List() ([]Cache, error) {
	return withConn(k, func(c *kcmConn) ([]Cache, error) {
		if k.name != "" {
			if _, err := c.principal(k.name); err != nil {
				return nil, nil
			}
			return []Cache{k}, nil
		}
		primary, err := c.resolve("")
		if err != nil {
			return nil, err
		}
		subs, err := c.subsidiaries()
		if err != nil {
			return nil, err
		}
		var first, rest []Cache
		for _, s := range subs {
			if s.name == primary {
				first = append(first, &kcmCache{name: s.name, env: k.env})
			} else {
				rest = append(rest, &kcmCache{name: s.name, env: k.env})
			}
		}
		return append(first, rest...), nil
	})
}
