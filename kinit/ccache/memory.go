package ccache

import (
	"errors"
	"sync"
)

// Memory holds a process's MEMORY: caches. MIT keeps them in a process-wide
// table; here the table is a value the caller owns and passes in [Env], so
// two tests or two PAM conversations never share one by accident.
type Memory struct {
	mu     sync.Mutex
	caches map[string][]byte
}

type memoryCache struct {
	name string
	m    *Memory
}

func openMemory(name string, env Env) (Cache, error) {
	if env.Memory == nil {
		return nil, errors.New("ccache: MEMORY: caches need a ccache.Memory in the Env")
	}
	if name == "" {
		return nil, errors.New("ccache: MEMORY: with no name")
	}
	return &memoryCache{name: name, m: env.Memory}, nil
}

func (c *memoryCache) Name() string { return "MEMORY:" + c.name }

// Store keeps the encoded cache, so later changes to c do not leak in.
func (c *memoryCache) Store(cc *CCache) error {
	data, err := cc.Marshal()
	if err != nil {
		return err
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.caches == nil {
		c.m.caches = make(map[string][]byte)
	}
	c.m.caches[c.name] = data
	return nil
}

func (c *memoryCache) Load() (*CCache, error) {
	c.m.mu.Lock()
	data, ok := c.m.caches[c.name]
	c.m.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	return Parse(data)
}

func (c *memoryCache) Destroy() error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.caches, c.name)
	return nil
}

func (c *memoryCache) List() ([]Cache, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if _, ok := c.m.caches[c.name]; !ok {
		return nil, nil
	}
	return []Cache{c}, nil
}
