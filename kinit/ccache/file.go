package ccache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileCache is FILE:path, written by [WriteFile].
type fileCache struct{ path string }

func openFile(path string) (Cache, error) {
	if path == "" {
		return nil, errors.New("ccache: FILE: with no path")
	}
	return &fileCache{path: path}, nil
}

func (f *fileCache) Name() string          { return "FILE:" + f.path }
func (f *fileCache) Store(c *CCache) error { return WriteFile(f.path, c) }

func (f *fileCache) Load() (*CCache, error) {
	c, err := ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, f.Name(), err)
	}
	return c, err
}

// Destroy overwrites the file with zeros before removing it, as MIT's
// fcc_destroy does, so the session keys do not linger on disk. A symbolic
// link is removed, not followed.
func (f *fileCache) Destroy() error {
	wipeFile(f.path)
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ccache: %w", err)
	}
	return nil
}

// wipeFile zeroes a regular file in place, on a best-effort basis: the
// removal that follows matters more than a failed overwrite. The file
// opened must be the one Lstat saw, so a symbolic link swapped in
// meanwhile is not followed.
func wipeFile(path string) {
	before, err := os.Lstat(path)
	if err != nil || !before.Mode().IsRegular() {
		return
	}
	file, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil && os.SameFile(before, st) {
		_, _ = file.Write(make([]byte, st.Size()))
		_ = file.Sync()
	}
}

func (f *fileCache) List() ([]Cache, error) {
	if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	return []Cache{f}, nil
}
