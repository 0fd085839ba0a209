package plugin

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// pool bounds the live instances of one Plugin and reuses idle ones.
// Instances are never shared across Plugins.
type pool struct {
	create func(context.Context) (*instance, error)
	idle   chan *instance // idle instances
	slots  chan struct{}  // one token per live instance
	gauge  prometheus.Gauge

	mu     sync.Mutex
	closed bool
}

func newPool(size int, gauge prometheus.Gauge, create func(context.Context) (*instance, error)) *pool {
	return &pool{create: create, idle: make(chan *instance, size), slots: make(chan struct{}, size), gauge: gauge}
}

func (p *pool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// get returns an idle instance, or creates one when below the bound, or
// waits for one to be returned or ctx to end.
func (p *pool) get(ctx context.Context) (*instance, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case p.slots <- struct{}{}:
		inst, err := p.create(ctx)
		if err != nil {
			<-p.slots
			return nil, fmt.Errorf("create instance: %w", err)
		}
		p.gauge.Inc()
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for instance: %w", ctx.Err())
	}
}

// put returns an instance after a call; a spent one (see instance.run) is
// discarded.
func (p *pool) put(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || inst.spent {
		p.release(context.Background(), inst)
		return
	}
	p.idle <- inst // never blocks: at most cap(slots) instances exist
}

// discard closes an instance that trapped, timed out or hit a limit.
func (p *pool) discard(ctx context.Context, inst *instance) { p.release(ctx, inst) }

func (p *pool) release(ctx context.Context, inst *instance) {
	inst.close(ctx)
	p.gauge.Dec()
	<-p.slots
}

// close discards idle instances now and busy ones when they are returned.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case inst := <-p.idle:
			p.release(ctx, inst)
		default:
			return
		}
	}
}
