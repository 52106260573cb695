package ccache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The kernel-keyring layout MIT's KEYRING type uses (src/lib/krb5/ccache/cc_keyring.c):
// an anchor keyring (session, user, persistent, process, thread) links a
// collection keyring "_krb_NAME" ("_krb" in the persistent keyring); the
// collection links one keyring per cache and a user key "krb_ccache:primary"
// naming the primary cache; a cache keyring holds a user key "__krb5_princ__"
// (the principal record), optionally "__krb5_time_offsets__", and one key per
// credential named by its server principal (a credential record each).
const (
	keyringCollectionPrefix = "_krb_"
	keyringPersistentName   = "_krb"
	keyringPrimaryKey       = "krb_ccache:primary"
	keyringPrincipalKey     = "__krb5_princ__"
	keyringOffsetsKey       = "__krb5_time_offsets__"
	keyringUniquePrefix     = "krb_ccache_"
	keyringPrimaryVersion   = 1
)

// keyringName is a parsed KEYRING residual: anchor:collection[:subsidiary].
type keyringName struct {
	anchor, collection, subsidiary string
}

var keyringAnchors = map[string]bool{"session": true, "user": true, "persistent": true, "process": true, "thread": true, "legacy": true}

// parseKeyringResidual splits a KEYRING residual as MIT does; a residual
// without an anchor is a legacy (session) collection.
func parseKeyringResidual(residual string) (keyringName, error) {
	var n keyringName
	anchor, rest, found := strings.Cut(residual, ":")
	if !found {
		anchor, rest = "legacy", residual
	}
	if !keyringAnchors[anchor] {
		return n, fmt.Errorf("ccache: KEYRING:%s: unknown anchor %q (session, user, persistent, process, thread)", residual, anchor)
	}
	n.anchor = anchor
	n.collection, n.subsidiary, _ = strings.Cut(rest, ":")
	if n.collection == "" && anchor != "persistent" {
		return n, fmt.Errorf("ccache: KEYRING:%s: no collection name", residual)
	}
	return n, nil
}

func (n keyringName) String() string {
	s := "KEYRING:" + n.anchor + ":" + n.collection
	if n.subsidiary != "" {
		s += ":" + n.subsidiary
	}
	return s
}

// defaultPrimary is the primary name of a collection that has none yet.
func (n keyringName) defaultPrimary() string {
	if n.collection == "" {
		return "tkt"
	}
	return n.collection
}

// legacyLinked reports a cache MIT also links into the session keyring so
// that pre-collection code finds it.
func (n keyringName) legacyLinked(sub string) bool {
	return n.anchor == "legacy" && sub == n.collection
}

// marshalKeyringPrimary encodes the "krb_ccache:primary" payload: version
// and the length-prefixed name, big-endian.
func marshalKeyringPrimary(name string) []byte {
	b := binary.BigEndian.AppendUint32(nil, keyringPrimaryVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	return append(b, name...)
}

// parseKeyringPrimary decodes the "krb_ccache:primary" payload.
func parseKeyringPrimary(data []byte) (string, error) {
	r := reader{buf: data}
	v := r.u32()
	name := r.take(int(r.u32()))
	if err := r.end(); err != nil {
		return "", fmt.Errorf("ccache: keyring primary index: %w", err)
	}
	if v != keyringPrimaryVersion {
		return "", fmt.Errorf("ccache: keyring primary index version %d", v)
	}
	if len(name) == 0 {
		return "", errors.New("ccache: keyring primary index names no cache")
	}
	return string(name), nil
}

// marshalKeyringOffsets encodes the KDC time offset key: seconds and
// microseconds, big-endian int32.
func marshalKeyringOffsets(d time.Duration) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(int32(d/time.Second)))
	return binary.BigEndian.AppendUint32(b, uint32(int32((d%time.Second)/time.Microsecond)))
}

func parseKeyringOffsets(data []byte) (time.Duration, error) {
	r := reader{buf: data}
	sec, usec := int32(r.u32()), int32(r.u32())
	if err := r.end(); err != nil {
		return 0, fmt.Errorf("ccache: keyring time offsets: %w", err)
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// unparsePrincipal renders p as krb5_unparse_name does, the description of
// a credential's key.
func unparsePrincipal(p Principal) string {
	esc := strings.NewReplacer(`\`, `\\`, "/", `\/`, "@", `\@`, "\n", `\n`, "\t", `\t`, "\b", `\b`, "\x00", `\0`)
	parts := make([]string, len(p.Components))
	for i, c := range p.Components {
		parts[i] = esc.Replace(c)
	}
	return strings.Join(parts, "/") + "@" + esc.Replace(p.Realm)
}
