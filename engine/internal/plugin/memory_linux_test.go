//go:build linux

package plugin

import (
	"bufio"
	"context"
	"errors"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMemoryGrowKeepsRSSBounded runs a guest that grows its memory page by
// page, filling every page, to the limit, five times in a row (a fresh
// instance each time, as the pool discards one after a limit hit), and
// checks the process's peak RSS stays under 1.5 times the limit above the
// baseline. With wazero's default memory (a Go buffer copied on every
// growth) the peak went well past that.
func TestMemoryGrowKeepsRSSBounded(t *testing.T) {
	const pages = 1024 // 64 MiB
	const limit = pages << 16
	b, err := reserve(limit)
	if err != nil {
		t.Skipf("memories are Go buffers here: %v", err)
	}
	if err := unreserve(b); err != nil {
		t.Fatal(err)
	}
	h := newTestHost(t, Options{})
	p, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "hostile", Name: "grow"},
		Wasm: hostilePlugin(growLoop), Limits: Limits{MemoryPages: pages}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close(context.Background()) }()
	if _, err := p.Transform(context.Background(), calmInput()); err != nil {
		t.Fatal(err)
	}
	goruntime.GC()
	debug.FreeOSMemory()
	base := procStatus(t, "VmRSS")
	peak := newPeakRSS(t)
	for i := range 5 {
		_, err := p.Transform(context.Background(), hostileInput())
		if !errors.Is(err, ErrMemoryLimit) {
			t.Fatalf("run %d: got %v, want the memory limit", i, err)
		}
	}
	top := peak.stop()
	bound := base + limit*3/2
	t.Logf("limit %d MiB: RSS baseline %d MiB, peak %d MiB, bound %d MiB",
		limit>>20, base>>20, top>>20, bound>>20)
	if top > bound {
		t.Errorf("peak RSS %d MiB over %d MiB (baseline %d MiB + 1.5 x the %d MiB limit)",
			top>>20, bound>>20, base>>20, limit>>20)
	}
}

// peakRSS follows the process's peak RSS: the kernel's high-water mark when
// it can be reset, and samples of the current RSS in any case.
type peakRSS struct {
	t    testing.TB
	hwm  bool
	done chan struct{}
	wg   sync.WaitGroup
	max  uint64
}

func newPeakRSS(t testing.TB) *peakRSS {
	p := &peakRSS{t: t, done: make(chan struct{})}
	// Writing 5 to clear_refs resets VmHWM to the current RSS.
	p.hwm = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			p.max = max(p.max, procStatus(t, "VmRSS"))
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *peakRSS) stop() uint64 {
	close(p.done)
	p.wg.Wait()
	if p.hwm {
		p.max = max(p.max, procStatus(p.t, "VmHWM"))
	}
	return p.max
}

// procStatus returns a /proc/self/status field in bytes.
func procStatus(t testing.TB, field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, value, ok := strings.Cut(s.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("parse %s: %v", field, err)
		}
		return kb << 10
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
