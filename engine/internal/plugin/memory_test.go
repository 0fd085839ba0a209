package plugin

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"
)

func TestLinearMemory(t *testing.T) {
	const max = 4 << 16
	a := &memoryAllocator{}
	m := a.Allocate(1<<16, max).(*linearMemory)
	first := m.Reallocate(1 << 16)
	if len(first) != 1<<16 {
		t.Fatalf("len %d", len(first))
	}
	first[0] = 7
	grown := m.Reallocate(max)
	if len(grown) != max || grown[0] != 7 {
		t.Fatalf("grown: len %d, first byte %d", len(grown), grown[0])
	}
	if m.mapped && unsafe.SliceData(grown) != unsafe.SliceData(first) {
		t.Error("a reserved memory moved when it grew")
	}
	if b := m.Reallocate(max + 1<<16); b != nil {
		t.Error("grew past the maximum")
	}
	// In use from Allocate until InstantiateModule returns: Free waits.
	m.Free()
	if m.gone {
		t.Fatal("released while in use")
	}
	m.release()
	if !m.gone {
		t.Fatal("not released after its last use")
	}
	if m.acquire() {
		t.Error("acquired a released memory")
	}
}

// TestHostCloseDuringCall closes the Host while a guest writes to its
// memory in a loop: the memory stays mapped until the call has returned,
// and the call fails instead of the process.
func TestHostCloseDuringCall(t *testing.T) {
	h, err := NewHost(Options{CacheDir: sharedCache})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "hostile", Name: "writer"},
		Wasm: hostilePlugin(cat([]byte{opLoop, blockVoid}, i32c(0), i32c(1),
			[]byte{opI32Store, 2, 0, opBr, 0, opEnd})),
		Limits: Limits{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error)
	go func() {
		_, err := p.Transform(context.Background(), hostileInput())
		errs <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		var ce *CallError
		if !errors.As(err, &ce) || !ce.Discarded {
			t.Fatalf("got %v, want a failed call", err)
		}
		t.Logf("call ended by Close: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the call did not end after Close")
	}
}
