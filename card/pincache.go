package card

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PINCacheMode says how long the client keeps a PIN it was given, after
// Windows' PIN_CACHE_POLICY_TYPE (smart card minidriver specification,
// PinCacheNormal … PinCacheAlwaysPrompt).
type PINCacheMode int

const (
	// PINCacheNormal keeps the PIN for the logon: asked once, presented
	// again only when the card has forgotten it (a reset, a new session).
	PINCacheNormal PINCacheMode = iota
	// PINCacheTimed keeps the PIN for [PINCachePolicy.TTL] after it was
	// entered; after that it is asked again.
	PINCacheTimed
	// PINCacheNone keeps no PIN: it is asked for every private-key
	// operation and wiped once the card has it.
	PINCacheNone
	// PINCacheAlwaysPrompt keeps no PIN either, and also ends the card's
	// verified state after each operation, so that nothing verified is
	// left on the card between operations.
	PINCacheAlwaysPrompt
)

// PINCachePolicy is a [PINCacheMode] with the lifetime of a timed cache.
// The zero value is PINCacheNormal.
type PINCachePolicy struct {
	Mode PINCacheMode
	TTL  time.Duration // PINCacheTimed only; more than zero
}

// ErrPINCachePolicy: a PIN cache policy that does not parse.
var ErrPINCachePolicy = errors.New("card: unknown PIN cache policy")

// ParsePINCachePolicy reads "normal", "timed:300s" (a Go duration, or a
// number of seconds: "timed:300"), "none" or "always-prompt".
func ParsePINCachePolicy(s string) (PINCachePolicy, error) {
	mode, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	switch mode {
	case "normal", "":
		if !hasArg {
			return PINCachePolicy{Mode: PINCacheNormal}, nil
		}
	case "none":
		if !hasArg {
			return PINCachePolicy{Mode: PINCacheNone}, nil
		}
	case "always-prompt", "alwaysprompt":
		if !hasArg {
			return PINCachePolicy{Mode: PINCacheAlwaysPrompt}, nil
		}
	case "timed":
		d, err := time.ParseDuration(arg)
		if n, nerr := strconv.Atoi(arg); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err == nil && d > 0 {
			return PINCachePolicy{Mode: PINCacheTimed, TTL: d}, nil
		}
		return PINCachePolicy{}, fmt.Errorf("%w %q: timed needs a positive duration, as in timed:300s", ErrPINCachePolicy, s)
	}
	return PINCachePolicy{}, fmt.Errorf("%w %q: want normal, timed:DURATION (timed:300s), none or always-prompt", ErrPINCachePolicy, s)
}

// String is the policy as [ParsePINCachePolicy] reads it.
func (p PINCachePolicy) String() string {
	switch p.Mode {
	case PINCacheTimed:
		return "timed:" + p.TTL.String()
	case PINCacheNone:
		return "none"
	case PINCacheAlwaysPrompt:
		return "always-prompt"
	}
	return "normal"
}

// Keeps reports whether the policy keeps a PIN after the card took it.
func (p PINCachePolicy) Keeps() bool { return p.Mode == PINCacheNormal || p.Mode == PINCacheTimed }

// PINCache holds the PINs a person entered, per card and per [PINRole],
// under a [PINCachePolicy]. The card's own per-key policy is not its
// business: a key whose policy is "always" is never given a cached PIN
// (package identity asks instead), and a "never" key wants none. It is safe
// for concurrent use.
type PINCache struct {
	policy PINCachePolicy
	now    func() time.Time

	mu      sync.Mutex
	entries map[pinKey]*pinEntry
}

type pinKey struct {
	card string
	role PINRole
}

type pinEntry struct {
	pin   *PIN
	added time.Time
}

// NewPINCache makes an empty cache; now is the clock a timed policy reads
// (time.Now when nil).
func NewPINCache(p PINCachePolicy, now func() time.Time) *PINCache {
	if now == nil {
		now = time.Now
	}
	return &PINCache{policy: p, now: now, entries: map[pinKey]*pinEntry{}}
}

// Policy is the cache's policy.
func (c *PINCache) Policy() PINCachePolicy { return c.policy }

// Use hands the PIN kept for role on the card named cardKey to f, if there
// is one and it has not expired; found is false otherwise (an expired PIN
// is wiped). f must not keep or wipe the PIN.
func (c *PINCache) Use(cardKey string, role PINRole, f func(*PIN) error) (found bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := pinKey{cardKey, role}
	e, ok := c.entries[k]
	if !ok {
		return false, nil
	}
	if c.policy.Mode == PINCacheTimed && c.now().Sub(e.added) >= c.policy.TTL {
		e.pin.Wipe()
		delete(c.entries, k)
		return false, nil
	}
	return true, f(e.pin)
}

// Put keeps pin for role on the card, taking ownership of it: under a
// policy that keeps nothing it is wiped at once.
func (c *PINCache) Put(cardKey string, role PINRole, pin *PIN) {
	if !c.policy.Keeps() {
		pin.Wipe()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := pinKey{cardKey, role}
	if old, ok := c.entries[k]; ok && old.pin != pin {
		old.pin.Wipe()
	}
	c.entries[k] = &pinEntry{pin: pin, added: c.now()}
}

// Forget wipes the PIN kept for role on the card (the card refused it, or
// it changed).
func (c *PINCache) Forget(cardKey string, role PINRole) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := pinKey{cardKey, role}
	if e, ok := c.entries[k]; ok {
		e.pin.Wipe()
		delete(c.entries, k)
	}
}

// Wipe forgets every PIN.
func (c *PINCache) Wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		e.pin.Wipe()
		delete(c.entries, k)
	}
}
