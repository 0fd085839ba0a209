package plugin

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestInterruptStopsRunaway runs guests that never return on their own:
// each call must end with ErrTimeout soon after its deadline, discard its
// instance, and leave the Plugin able to serve the next call.
func TestInterruptStopsRunaway(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"loop", runawayModule(loopForever, nil)},
		{"nested-loops", runawayModule(nestedLoops, nil)},
		{"recursion-without-loops", runawayModule(recurse, nil)},
		{"host-call-each-iteration", runawayModule(logForever, nil)},
		{"go-fixture", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHost(t, Options{})
			spec := Spec{Key: Key{Namespace: "test", Name: tc.name}, Wasm: tc.wasm,
				Limits: Limits{Timeout: 300 * time.Millisecond, MaxInstances: 1}}
			if tc.wasm == nil {
				// The timeout also covers instantiating the Go guest
				// (_initialize) after the discard, slow under -race on a
				// loaded machine.
				spec.Limits.Timeout = 2 * time.Second
			}
			runaway, small := fixtureList(map[string]any{"mode": "loop"}), fixtureList(nil)
			var p *Plugin
			if tc.wasm == nil {
				p = load(t, h, "fixture", spec)
			} else {
				p = loadWasm(t, h, spec)
				runaway.Items = items(20) // over 1000 bytes
			}
			// Warm the pool so that the deadline falls inside the call.
			if _, err := p.Transform(context.Background(), small); err != nil {
				t.Fatalf("first call: %v", err)
			}
			start := time.Now()
			_, err := p.Transform(context.Background(), runaway)
			elapsed := time.Since(start)
			var ce *CallError
			if !errors.As(err, &ce) || ce.Kind != ErrTimeout || !ce.Discarded {
				t.Fatalf("got %v", err)
			}
			if elapsed > 10*time.Second {
				t.Errorf("stopping took %v", elapsed)
			}
			if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues(spec.Key.String())); n != 0 {
				t.Errorf("live instances after timeout = %v, want 0", n)
			}
			out, err := p.Transform(context.Background(), small)
			if err != nil {
				t.Fatalf("call after timeout: %v", err)
			}
			if len(out.Items) == 0 {
				t.Fatal("call after timeout returned no items")
			}
		})
	}
}

// TestInterruptInitialize: a guest whose _initialize never returns is
// stopped by the deadline of the call that needed the instance, and does
// not keep the pool's only slot.
func TestInterruptInitialize(t *testing.T) {
	h := newTestHost(t, Options{})
	spec := Spec{Key: Key{Namespace: "test", Name: "init"}, Wasm: runawayModule(nil, append(loopForever, 0x0b)),
		Limits: Limits{Timeout: 300 * time.Millisecond, MaxInstances: 1}}
	p := loadWasm(t, h, spec)
	for range 2 {
		start := time.Now()
		_, err := p.Transform(context.Background(), fixtureList(nil))
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "_initialize interrupted") {
			t.Fatalf("got %v", err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("stopping took %v", elapsed)
		}
		if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues("test/init")); n != 0 {
			t.Errorf("live instances = %v, want 0", n)
		}
	}
}

// TestInterruptStartSection: a start function that never returns is run
// by the host under the interrupt, not inside instantiation.
func TestInterruptStartSection(t *testing.T) {
	h := newTestHost(t, Options{})
	four := uint32(4)
	m := testModule{types: [][2][]byte{{{i32}, {i32}}, {{i32}, nil}, {{i32, i32}, {i64}}, {nil, nil}},
		funcs: []testFunc{
			{typ: 0, body: []byte{0x41, 0x80, 0x08, 0x0b}},
			{typ: 1, body: []byte{0x0b}},
			{typ: 2, body: []byte{0x42, 0x00, 0x0b}},
			{typ: 3, body: []byte{0x0b}},
			{typ: 3, body: append(loopForever, 0x0b)},
		},
		memory:  true,
		exports: []export{{"weir_alloc", 0, 0}, {"weir_free", 0, 1}, {"weir_transform", 0, 2}},
		start:   &four,
	}
	spec := Spec{Key: Key{Namespace: "test", Name: "start"}, Wasm: withMetadata(m.encode(), runawayMeta),
		Limits: Limits{Timeout: 300 * time.Millisecond, MaxInstances: 1}}
	p := loadWasm(t, h, spec)
	if _, err := p.Transform(context.Background(), fixtureList(nil)); !errors.Is(err, ErrTimeout) ||
		!strings.Contains(err.Error(), StartExport+" interrupted") {
		t.Fatalf("got %v", err)
	}
}

// TestInterruptWhileCollecting: Go cannot preempt a goroutine running
// wazero's native code, so a guest that never left it would stall every
// garbage collection of the process, and with it the timer that stops the
// guest. The checks leave native code periodically; this hangs without.
func TestInterruptWhileCollecting(t *testing.T) {
	h := newTestHost(t, Options{})
	spec := Spec{Key: Key{Namespace: "test", Name: "gc"}, Wasm: runawayModule(loopForever, nil),
		Limits: Limits{Timeout: 300 * time.Millisecond, MaxInstances: 1}}
	p := loadWasm(t, h, spec)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				goruntime.GC()
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	runaway := fixtureList(nil)
	runaway.Items = items(20)
	for range 3 {
		if _, err := p.Transform(context.Background(), runaway); !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v", err)
		}
	}
}

func loadWasm(t testing.TB, h *Host, spec Spec) *Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}
