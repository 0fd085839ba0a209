package plugin

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero/experimental"
)

// wazero's default linear memory is a Go []byte that memory.grow replaces
// by a larger copy. Old and new buffers coexist until the garbage collector
// runs, and the Go heap keeps the pages afterwards: a guest that grows to a
// 128 MiB limit drove the process to several times that. memoryAllocator
// instead reserves the instance's maximum once, outside the Go heap, and
// grows by handing out a longer slice of the same reservation: no copy, and
// pages the guest never touches cost nothing (see reserve in
// memory_linux.go). Where reserve is not available, the memory is a Go
// []byte as in wazero.

// memoryAllocator creates the linear memory of one instance and keeps it, so
// the instance can hold it mapped while it runs.
type memoryAllocator struct {
	mem *linearMemory
}

// withMemoryAllocator returns ctx carrying a new allocator for one
// InstantiateModule.
func withMemoryAllocator(ctx context.Context) (context.Context, *memoryAllocator) {
	a := &memoryAllocator{}
	return experimental.WithMemoryAllocator(ctx, a), a
}

// Allocate implements experimental.MemoryAllocator. max is the largest size
// wazero will ever ask for: the module's maximum, capped by the runtime's
// memory limit.
func (a *memoryAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	m := &linearMemory{max: max}
	if buf, err := reserve(max); err == nil {
		m.reserved, m.mapped = buf, true
	} else {
		m.reserved = make([]byte, 0, capacity)
	}
	// The memory is in use until InstantiateModule returns: _initialize
	// runs inside it.
	m.users = 1
	a.mem = m
	return m
}

// linearMemory implements experimental.LinearMemory. The host counts its
// users: wazero frees a memory when its module closes, which another
// goroutine (Host.Close) may do while a call still runs; unmapping then
// would crash the process, so the unmap waits for the last user.
type linearMemory struct {
	max      uint64
	reserved []byte // mapped: the whole reservation; otherwise the Go buffer
	mapped   bool
	size     uint64

	mu    sync.Mutex
	users int
	freed bool // Free was called
	gone  bool // the reservation is released
}

// Reallocate implements experimental.LinearMemory. It returns nil, which
// wazero turns into a failed memory.grow, past the maximum.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	m.size = size
	if m.mapped {
		return m.reserved[:size:size]
	}
	if size > uint64(cap(m.reserved)) {
		m.reserved = append(m.reserved[:cap(m.reserved)], make([]byte, size-uint64(cap(m.reserved)))...)
	}
	m.reserved = m.reserved[:size]
	return m.reserved
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freed = true
	if m.users == 0 {
		m.releaseLocked()
	}
}

// acquire marks the memory in use; false if it is already released.
func (m *linearMemory) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gone {
		return false
	}
	m.users++
	return true
}

// release ends a use, and releases the memory if it was freed meanwhile.
func (m *linearMemory) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users--; m.users == 0 && m.freed {
		m.releaseLocked()
	}
}

func (m *linearMemory) releaseLocked() {
	if m.gone {
		return
	}
	m.gone = true
	if m.mapped {
		_ = unreserve(m.reserved)
	}
	m.reserved = nil
}
