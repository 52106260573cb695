package kdc

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
)

// Key is one long-term key of a principal.
type Key struct {
	EType int32  `json:"etype"`
	KVNO  uint32 `json:"kvno"`
	Value []byte `json:"key"`
}

// KeyStore holds the realm's long-term keys — krbtgt and the service
// principals — in a state directory, generated on first use. The file is
// private (0600) and replaced atomically.
type KeyStore struct {
	path string
	rand io.Reader
	now  func() time.Time

	mu      sync.Mutex
	keys    map[string][]Key // principal "name/inst@REALM" → keys, strongest first
	modTime time.Time        // of the file as last read or written
}

// keyETypes are generated for every principal: AES-256 first, the etype
// tickets are encrypted with.
var keyETypes = []int32{18, 17} // aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96 (RFC 3962)

var keySizes = map[int32]int{17: 16, 18: 32, 19: 16, 20: 32}

// OpenKeyStore reads dir/keys.json, creating it (and dir) if absent.
func OpenKeyStore(dir string, rand io.Reader, now func() time.Time) (*KeyStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kdc: state directory: %w", err)
	}
	ks := &KeyStore{path: filepath.Join(dir, "keys.json"), rand: rand, now: now, keys: map[string][]Key{}}
	data, err := os.ReadFile(ks.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ks, ks.save()
	case err != nil:
		return nil, fmt.Errorf("kdc: %w", err)
	}
	if ks.keys, err = decodeKeys(ks.path, data); err != nil {
		return nil, err
	}
	if st, err := os.Stat(ks.path); err == nil {
		ks.modTime = st.ModTime()
	}
	return ks, nil
}

func decodeKeys(path string, data []byte) (map[string][]Key, error) {
	keys := map[string][]Key{}
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("kdc: %s: %w", path, err)
	}
	for p, ks := range keys {
		for _, k := range ks {
			if n, ok := keySizes[k.EType]; !ok || n != len(k.Value) {
				return nil, fmt.Errorf("kdc: %s: key of %s has etype %d and %d bytes", path, p, k.EType, len(k.Value))
			}
		}
	}
	return keys, nil
}

// reloadIfChanged rereads the file when another process (sclogon kdc
// keytab) has added a principal since; the caller holds mu.
func (ks *KeyStore) reloadIfChanged() {
	st, err := os.Stat(ks.path)
	if err != nil || st.ModTime().Equal(ks.modTime) {
		return
	}
	data, err := os.ReadFile(ks.path)
	if err != nil {
		return
	}
	if keys, err := decodeKeys(ks.path, data); err == nil {
		ks.keys, ks.modTime = keys, st.ModTime()
	}
}

// Ensure generates keys for principal unless it has some.
func (ks *KeyStore) Ensure(principal string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.reloadIfChanged() // keep what another process added
	if len(ks.keys[principal]) > 0 {
		return nil
	}
	var keys []Key
	for _, et := range keyETypes {
		v := make([]byte, keySizes[et])
		if _, err := io.ReadFull(ks.rand, v); err != nil {
			return fmt.Errorf("kdc: generate key: %w", err)
		}
		keys = append(keys, Key{EType: et, KVNO: 1, Value: v})
	}
	ks.keys[principal] = keys
	return ks.save()
}

// Keys returns principal's keys, strongest first.
func (ks *KeyStore) Keys(principal string) ([]Key, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, ok := ks.keys[principal]
	if !ok {
		ks.reloadIfChanged()
		k, ok = ks.keys[principal]
	}
	return append([]Key(nil), k...), ok && len(k) > 0
}

// Key returns principal's key for etype (0: the strongest).
func (ks *KeyStore) Key(principal string, etype int32) (Key, bool) {
	keys, ok := ks.Keys(principal)
	if !ok {
		return Key{}, false
	}
	for _, k := range keys {
		if etype == 0 || k.EType == etype {
			return k, true
		}
	}
	return Key{}, false
}

// Principals lists the principals with keys, sorted.
func (ks *KeyStore) Principals() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var out []string
	for p := range ks.keys {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (ks *KeyStore) save() error {
	data, err := json.MarshalIndent(ks.keys, "", "  ")
	if err != nil {
		return err
	}
	if err := WritePrivateFile(ks.path, data); err != nil {
		return err
	}
	if st, err := os.Stat(ks.path); err == nil {
		ks.modTime = st.ModTime()
	}
	return nil
}

// WritePrivateFile replaces path with data through a 0600 O_EXCL temporary
// file in the same directory, so that readers see the old or the new file.
func WritePrivateFile(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("kdc: %w", err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("kdc: write %s: %w", path, werr)
	}
	return nil
}

func (k Key) encryptionKey() types.EncryptionKey {
	return types.EncryptionKey{KeyType: k.EType, KeyValue: k.Value}
}

// splitPrincipal parses "a/b@REALM" into its components and realm.
func splitPrincipal(p string) (components []string, realm string, err error) {
	name, realm, ok := strings.Cut(p, "@")
	if !ok || name == "" || realm == "" {
		return nil, "", fmt.Errorf("kdc: principal %q is not name@REALM", p)
	}
	return strings.Split(name, "/"), realm, nil
}

// Keytab encodes principal's keys as an MIT keytab (format 0x0502), the file
// a host uses to decrypt its service tickets.
func (ks *KeyStore) Keytab(principal string) ([]byte, error) {
	keys, ok := ks.Keys(principal)
	if !ok {
		return nil, fmt.Errorf("kdc: no keys for %s (add it to the KDC's services)", principal)
	}
	comps, realm, err := splitPrincipal(principal)
	if err != nil {
		return nil, err
	}
	const nameType = 1 // KRB_NT_PRINCIPAL, as MIT's ktadd writes; lookups ignore it
	out := []byte{0x05, 0x02}
	ts := uint32(ks.now().Unix())
	for _, k := range keys {
		var e []byte
		e = binary.BigEndian.AppendUint16(e, uint16(len(comps)))
		e = appendString16(e, realm)
		for _, c := range comps {
			e = appendString16(e, c)
		}
		e = binary.BigEndian.AppendUint32(e, nameType)
		e = binary.BigEndian.AppendUint32(e, ts)
		e = append(e, byte(k.KVNO))
		e = binary.BigEndian.AppendUint16(e, uint16(k.EType))
		e = binary.BigEndian.AppendUint16(e, uint16(len(k.Value)))
		e = append(e, k.Value...)
		e = binary.BigEndian.AppendUint32(e, k.KVNO)
		out = binary.BigEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out, nil
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}
