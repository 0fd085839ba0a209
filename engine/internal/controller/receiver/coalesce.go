package receiver

import "sync"

// Coalescer merges concurrent triggers of one key (a Receiver) into rounds:
// at most one round runs per key, and every call that arrives while one
// runs joins the next round, which starts when the running one ends. A
// round therefore always starts after each of its callers arrived, so a
// webhook's answer still means "a reconcile was requested after this
// request", while a burst of webhooks costs two patches per target instead
// of one each.
//
// Only triggers that do not depend on the request (no CEL filter reads
// req or claims) may be coalesced.
type Coalescer struct {
	mu   sync.Mutex
	keys map[string]*flight
}

type flight struct {
	running *round // started, not yet done
	pending *round // waiting for running; callers join it
}

type round struct {
	done chan struct{}
	err  error
}

// Do runs fn in a round for key and returns that round's error.
func (c *Coalescer) Do(key string, fn func() error) error {
	c.mu.Lock()
	if c.keys == nil {
		c.keys = map[string]*flight{}
	}
	f := c.keys[key]
	if f == nil {
		f = &flight{}
		c.keys[key] = f
	}
	if r := f.pending; r != nil {
		c.mu.Unlock()
		<-r.done
		return r.err
	}
	r := &round{done: make(chan struct{})}
	prev := f.running
	f.pending = r
	c.mu.Unlock()

	if prev != nil {
		<-prev.done
	}
	c.mu.Lock()
	f.pending, f.running = nil, r
	c.mu.Unlock()

	r.err = fn()

	c.mu.Lock()
	if f.running == r {
		f.running = nil
		if f.pending == nil {
			delete(c.keys, key)
		}
	}
	c.mu.Unlock()
	close(r.done)
	return r.err
}
