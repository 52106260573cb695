package kdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// FileKeys is the [KeyBackend] of one KDC alone: state_dir/keys.json, a
// JSON object of principal → keys, private (0600) and replaced atomically.
// It is read again only when it changed: another modification time, or
// another file renamed into place (two writes within one tick of the
// kernel's file clock have the same time).
type FileKeys struct {
	path string

	mu   sync.Mutex
	keys map[string][]Key // never changed in place: Load hands it out
	seen os.FileInfo      // the file as last read or written
}

// OpenFileKeys reads dir/keys.json, creating it (and dir) if absent.
func OpenFileKeys(dir string) (*FileKeys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kdc: state directory: %w", err)
	}
	f := &FileKeys{path: filepath.Join(dir, "keys.json"), keys: map[string][]Key{}}
	data, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return f, f.save(f.keys)
	case err != nil:
		return nil, fmt.Errorf("kdc: %w", err)
	}
	if f.keys, err = decodeKeys(f.path, data); err != nil {
		return nil, err
	}
	if st, err := os.Stat(f.path); err == nil {
		f.seen = st
	}
	return f, nil
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
// keytab, rollover) has written it since; the caller holds mu.
func (f *FileKeys) reloadIfChanged() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("kdc: %w", err)
	}
	if f.seen != nil && st.ModTime().Equal(f.seen.ModTime()) && os.SameFile(st, f.seen) {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("kdc: %w", err)
	}
	keys, err := decodeKeys(f.path, data)
	if err != nil {
		return err
	}
	f.keys, f.seen = keys, st
	return nil
}

// Load implements [KeyBackend].
func (f *FileKeys) Load(context.Context) (map[string][]Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reloadIfChanged(); err != nil {
		return nil, err
	}
	return f.keys, nil
}

// Create implements [KeyBackend].
func (f *FileKeys) Create(_ context.Context, principal string, keys []Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reloadIfChanged(); err != nil {
		return err
	}
	if len(f.keys[principal]) > 0 {
		return fmt.Errorf("%w: %s in %s", ErrKeysExist, principal, f.path)
	}
	return f.saveWith(principal, keys)
}

// Replace implements [KeyBackend].
func (f *FileKeys) Replace(_ context.Context, principal string, old, keys []Key) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.reloadIfChanged(); err != nil {
		return err
	}
	if !sameKeys(f.keys[principal], old) {
		return fmt.Errorf("%w: %s in %s", ErrKeysChanged, principal, f.path)
	}
	return f.saveWith(principal, keys)
}

// saveWith writes the keys with principal's set to keys; the caller holds mu.
func (f *FileKeys) saveWith(principal string, keys []Key) error {
	next := maps.Clone(f.keys)
	next[principal] = keys
	return f.save(next)
}

func (f *FileKeys) save(keys map[string][]Key) error {
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	if err := WritePrivateFile(f.path, data); err != nil {
		return err
	}
	f.keys, f.seen = keys, nil
	if st, err := os.Stat(f.path); err == nil {
		f.seen = st
	}
	return nil
}

// sameKeys compares two key lists as sets.
func sameKeys(a, b []Key) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(k Key) string {
		return fmt.Sprintf("%d/%d/%x/%d", k.KVNO, k.EType, k.Value, k.NotAfter.UnixNano())
	}
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i], bs[i] = key(a[i]), key(b[i])
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}
