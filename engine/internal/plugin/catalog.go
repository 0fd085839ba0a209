package plugin

import (
	"context"
	"sync"
)

// Entry is a loaded Plugin with what it was loaded from.
type Entry struct {
	Plugin *Plugin
	// Digest is the OCI manifest digest the module was verified and pulled at.
	Digest string
	// Revision says which spec (generation, referenced Secrets) the entry
	// was loaded for; the controller reloads when it changes.
	Revision string
}

// Catalog is the set of Plugins that are verified, compiled and ready to
// serve, by Plugin object. The Plugin controller swaps entries in; the
// stages read them. A swap closes the replaced Plugin once calls in flight
// end, so the old module serves until the new one is in place.
type Catalog struct {
	mu        sync.RWMutex
	entries   map[Key]Entry
	listeners []func(Key)
}

// OnChange registers fn to be called, outside the lock, after every Set and
// Delete. The stages use it to requeue what a plugin gates the moment it
// starts (or stops) serving, which a Plugin's status alone does not show
// after a restart.
func (c *Catalog) OnChange(fn func(Key)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.listeners = append(c.listeners, fn)
}

func (c *Catalog) notify(k Key) {
	c.mu.RLock()
	ls := append([]func(Key){}, c.listeners...)
	c.mu.RUnlock()
	for _, fn := range ls {
		fn(k)
	}
}

// NewCatalog returns an empty Catalog.
func NewCatalog() *Catalog { return &Catalog{entries: map[Key]Entry{}} }

// Get returns the entry serving key.
func (c *Catalog) Get(key Key) (Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[key]
	return e, ok
}

// Set puts e in place for key and closes the entry it replaces.
func (c *Catalog) Set(ctx context.Context, key Key, e Entry) {
	c.mu.Lock()
	old, had := c.entries[key]
	c.entries[key] = e
	c.mu.Unlock()
	if had && old.Plugin != e.Plugin {
		_ = old.Plugin.Close(ctx)
	}
	c.notify(key)
}

// Delete removes and closes the entry for key.
func (c *Catalog) Delete(ctx context.Context, key Key) {
	c.mu.Lock()
	old, had := c.entries[key]
	delete(c.entries, key)
	c.mu.Unlock()
	if had {
		_ = old.Plugin.Close(ctx)
		c.notify(key)
	}
}

// Len returns the number of entries.
func (c *Catalog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
