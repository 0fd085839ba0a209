package plugin

import "context"

// PageSize is the size of a WebAssembly memory page.
const PageSize = 64 << 10

// GuestMemoryBytes returns the linear memory size of one of the Plugin's
// instances: an idle one when there is one, else a new one. A guest's
// memory only grows, so after a run of calls this is its high-water mark.
// For measurement (`engine plugin bench`), not for the engine's hot path.
func (p *Plugin) GuestMemoryBytes(ctx context.Context) (uint64, error) {
	inst, err := p.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	defer p.pool.put(inst)
	return uint64(inst.mod.Memory().Size()), nil
}
