package ccache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dirCache is MIT's DIR collection: DIR:dir names the collection (its
// primary cache), DIR::dir/tktNAME one cache in it. Caches are FILE caches
// named tkt* in dir; the file "primary" holds one line naming the primary.
type dirCache struct {
	dir  string
	file string // "" for the collection; else the tkt* file name
	env  Env
}

const dirPrimary = "primary"

func openDir(residual string, env Env) (Cache, error) {
	if sub, ok := strings.CutPrefix(residual, ":"); ok {
		dir, file := filepath.Split(sub)
		if dir == "" || !strings.HasPrefix(file, "tkt") {
			return nil, fmt.Errorf("ccache: DIR:%s: a subsidiary cache is a file named tkt* with its directory", residual)
		}
		return &dirCache{dir: filepath.Clean(dir), file: file, env: env}, nil
	}
	if residual == "" {
		return nil, errors.New("ccache: DIR: with no directory")
	}
	return &dirCache{dir: residual, env: env}, nil
}

func (d *dirCache) Name() string {
	if d.file == "" {
		return "DIR:" + d.dir
	}
	return "DIR::" + filepath.Join(d.dir, d.file)
}

// ensureDir creates the directory private if it is missing, as MIT does.
func (d *dirCache) ensureDir() error {
	st, err := os.Stat(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(d.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("ccache: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("ccache: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("ccache: %s: the cache directory is not a directory", d.dir)
	}
	return nil
}

// primary reads the primary file; a missing file means "tkt", MIT's
// initial primary.
func (d *dirCache) primary() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, dirPrimary))
	if errors.Is(err, fs.ErrNotExist) {
		return "tkt", nil
	}
	if err != nil {
		return "", fmt.Errorf("ccache: %w", err)
	}
	name, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok || !bytes.HasPrefix(name, []byte("tkt")) || bytes.ContainsAny(name, "/\n\x00") {
		return "", fmt.Errorf("ccache: %s: primary file is not one line naming a tkt* file", d.dir)
	}
	return string(name), nil
}

func (d *dirCache) setPrimary(file string) error {
	path := filepath.Join(d.dir, dirPrimary)
	tmp, err := writeTemp(path, []byte(file+"\n"), -1, -1)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("ccache: %w", err)
	}
	return nil
}

// current is the file Load and Destroy act on.
func (d *dirCache) current() (string, error) {
	if d.file != "" {
		return d.file, nil
	}
	return d.primary()
}

func (d *dirCache) Load() (*CCache, error) {
	file, err := d.current()
	if err != nil {
		return nil, err
	}
	return (&fileCache{path: filepath.Join(d.dir, file)}).Load()
}

func (d *dirCache) Destroy() error {
	file, err := d.current()
	if err != nil {
		return err
	}
	return (&fileCache{path: filepath.Join(d.dir, file)}).Destroy()
}

// Store writes c. A named cache is replaced in place; a collection Store
// picks the target as MIT's kinit does and makes it primary.
func (d *dirCache) Store(c *CCache) error {
	if err := d.ensureDir(); err != nil {
		return err
	}
	if d.file != "" {
		return WriteFile(filepath.Join(d.dir, d.file), c)
	}
	subs, err := d.subsidiaries()
	if err != nil {
		return err
	}
	primary, err := d.primary()
	if err != nil {
		return err
	}
	target, fresh := collectionTarget(subs, primary, c.Principal)
	if fresh {
		if target, err = d.storeNew(c); err != nil {
			return err
		}
	} else if err := WriteFile(filepath.Join(d.dir, target), c); err != nil {
		return err
	}
	return d.setPrimary(target)
}

// storeNew writes c to a new file "tkt" + six random characters: the finished temporary file is
// hard-linked to the new name, which fails rather than replace a file that
// appeared meanwhile.
func (d *dirCache) storeNew(c *CCache) (string, error) {
	data, err := c.Marshal()
	if err != nil {
		return "", err
	}
	tmp, err := writeTemp(filepath.Join(d.dir, "tkt"), data, -1, -1)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	for i := 0; i < 100; i++ {
		suffix, err := d.env.randomName(6)
		if err != nil {
			return "", err
		}
		name := "tkt" + suffix
		err = os.Link(tmp, filepath.Join(d.dir, name))
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("ccache: %w", err)
		}
	}
	return "", fmt.Errorf("ccache: %s: no free tkt* name", d.dir)
}

// subsidiaries lists the initialised tkt* caches in the directory.
func (d *dirCache) subsidiaries() ([]subsidiary, error) {
	entries, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ccache: %w", err)
	}
	var subs []subsidiary
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "tkt") || !e.Type().IsRegular() {
			continue
		}
		c, err := ReadFile(filepath.Join(d.dir, e.Name()))
		if err != nil {
			continue // not a cache, or one being removed: MIT skips these too
		}
		subs = append(subs, subsidiary{name: e.Name(), principal: c.Principal})
	}
	return subs, nil
}

func (d *dirCache) List() ([]Cache, error) {
	subs, err := d.subsidiaries()
	if err != nil {
		return nil, err
	}
	primary, err := d.primary()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].name == primary && subs[j].name != primary })
	var out []Cache
	for _, s := range subs {
		out = append(out, &dirCache{dir: d.dir, file: s.name, env: d.env})
	}
	return out, nil
}
