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

func (f *fileCache) Destroy() error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ccache: %w", err)
	}
	return nil
}

func (f *fileCache) List() ([]Cache, error) {
	if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	return []Cache{f}, nil
}
