package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

func TestTimeoutStopsRunawayGuest(t *testing.T) {
	h := newTestHost(t, Options{})
	// The timeout also covers instantiating the Go guest (_initialize),
	// slow under -race on a loaded machine.
	p := load(t, h, "fixture", Spec{Limits: Limits{Timeout: 2 * time.Second, MaxInstances: 1}})
	start := time.Now()
	_, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "loop"}))
	elapsed := time.Since(start)
	var ce *CallError
	if !errors.As(err, &ce) || !errors.Is(err, ErrTimeout) || !ce.Discarded {
		t.Fatalf("got %v", err)
	}
	if elapsed > 10*time.Second {
		t.Errorf("stopping took %v", elapsed)
	}
	t.Logf("runaway guest stopped after %v: %v", elapsed, err)
	if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues("test/fixture")); n != 0 {
		t.Errorf("live instances after timeout = %v, want 0", n)
	}
	// The only slot was freed: the next call gets a fresh instance.
	if _, err := p.Transform(context.Background(), fixtureList(nil)); err != nil {
		t.Fatalf("call after timeout: %v", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "fixture", Spec{Limits: Limits{MemoryPages: 1024}}) // 64 MiB
	_, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "oom"}))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != ErrMemoryLimit || !ce.Discarded {
		t.Fatalf("got %v", err)
	}
	if _, err := p.Transform(context.Background(), fixtureList(nil)); err != nil {
		t.Fatalf("call after memory limit: %v", err)
	}
}

func TestOutputLimit(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "fixture", Spec{Limits: Limits{MaxOutputBytes: 1 << 20, MaxInputBytes: 1 << 20}})
	_, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "bigout", "size": "2000000"}))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != ErrOutputTooLarge || !ce.Discarded {
		t.Fatalf("got %v", err)
	}
	if _, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "bigout", "size": "1000"})); err != nil {
		t.Fatal(err)
	}
	big := &abi.ResourceList{Items: []map[string]any{{"data": string(make([]byte, 2<<20))}}}
	if _, err := p.Transform(context.Background(), big); !errors.Is(err, ErrInputTooLarge) {
		t.Errorf("input limit: %v", err)
	}
}

func TestCompileCacheReusedFromDisk(t *testing.T) {
	dir := t.TempDir()
	compile := func() time.Duration {
		h := newTestHost(t, Options{CacheDir: dir})
		start := time.Now()
		if _, err := h.compile(context.Background(), modules["add-labels"], 2048); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if err := h.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cold := compile()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir is empty: %v", err)
	}
	warm := compile()
	t.Logf("compile cold %v, from disk cache %v", cold, warm)
	if warm >= cold {
		t.Errorf("compile from the disk cache (%v) not faster than cold (%v)", warm, cold)
	}
}

func TestCompileOncePerDigest(t *testing.T) {
	h := newTestHost(t, Options{})
	a := load(t, h, "add-labels", Spec{Key: Key{Namespace: "a", Name: "one"}})
	b := load(t, h, "add-labels", Spec{Key: Key{Namespace: "b", Name: "two"}})
	if a.mod != b.mod {
		t.Error("same digest compiled twice")
	}
	if a.pool == b.pool {
		t.Error("pool shared across Plugins")
	}
}

func TestClosedPlugin(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "add-labels", Spec{})
	_ = p.Close(context.Background())
	if _, err := p.Transform(context.Background(), &abi.ResourceList{Items: items(1)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

// TestHammer runs many concurrent calls, some of them timing out, against two
// Plugins of the same module and checks results and the instance bound.
func TestHammer(t *testing.T) {
	h := newTestHost(t, Options{})
	const maxInst = 2
	labels := load(t, h, "add-labels", Spec{Key: Key{Namespace: "h", Name: "labels"},
		Config: map[string]any{"k": "v"}, Limits: Limits{MaxInstances: maxInst}})
	fixture := load(t, h, "fixture", Spec{Key: Key{Namespace: "h", Name: "fixture"},
		Limits: Limits{MaxInstances: maxInst, Timeout: 200 * time.Millisecond}})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				if g == 0 && i%5 == 0 {
					if _, err := fixture.Transform(context.Background(), fixtureList(map[string]any{"mode": "loop"})); !errors.Is(err, ErrTimeout) {
						errs <- fmt.Errorf("loop: %v", err)
					}
					continue
				}
				out, err := labels.Transform(context.Background(), &abi.ResourceList{Items: items(i%4 + 1)})
				if err != nil {
					errs <- err
					continue
				}
				if len(out.Items) != i%4+1 {
					errs <- fmt.Errorf("got %d items", len(out.Items))
				}
				if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues("h/labels")); n > maxInst {
					errs <- fmt.Errorf("%v live instances, bound %d", n, maxInst)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCloseDuringCalls closes a Plugin while calls are in flight: every call
// either succeeds or fails with ErrClosed, and no instance outlives it.
func TestCloseDuringCalls(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "add-labels", Spec{Config: map[string]any{"k": "v"}, Limits: Limits{MaxInstances: 2}})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				_, err := p.Transform(context.Background(), &abi.ResourceList{Items: items(2)})
				if err != nil && !errors.Is(err, ErrClosed) {
					errs <- err
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	p.pool.close(context.Background())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues("test/add-labels")); n != 0 {
		t.Errorf("live instances after close = %v", n)
	}
}

// TestSandbox checks that a guest sees no environment, arguments or files.
func TestSandbox(t *testing.T) {
	t.Setenv("WEIR_SECRET", "x")
	h := newTestHost(t, Options{})
	p := load(t, h, "fixture", Spec{})
	out, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "probe"}))
	if err != nil {
		t.Fatal(err)
	}
	got := out.Items[len(out.Items)-1]
	if got["env"] != 0.0 || got["args"] != 0.0 || got["fileErr"] != true || got["dirErr"] != true {
		t.Fatalf("guest saw: %v", got)
	}
}
