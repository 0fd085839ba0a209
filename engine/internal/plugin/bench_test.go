package plugin

import (
	"context"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// BenchmarkTransform measures one add-labels call over 10 ConfigMaps through
// a warm pool, with and without the interruptible (WithCloseOnContextDone)
// compilation.
func BenchmarkTransform(b *testing.B) {
	for _, bc := range []struct {
		name        string
		noInterrupt bool
	}{{"interruptible", false}, {"no-interrupt", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newTestHost(b, Options{NoInterrupt: bc.noInterrupt})
			p := load(b, h, "add-labels", Spec{Config: map[string]any{"team": "a"}, Limits: Limits{MaxInstances: 1}})
			rl := &abi.ResourceList{Items: items(10)}
			if _, err := p.Transform(context.Background(), rl); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := p.Transform(context.Background(), rl); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
			inst, err := p.pool.get(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(inst.mod.Memory().Size())/(1<<20), "MiB/instance")
			p.pool.put(inst)
		})
	}
}

// BenchmarkHealth measures the smallest round trip: one object in, one verdict out.
func BenchmarkHealth(b *testing.B) {
	for _, bc := range []struct {
		name        string
		noInterrupt bool
	}{{"interruptible", false}, {"no-interrupt", true}} {
		b.Run(bc.name, func(b *testing.B) {
			h := newTestHost(b, Options{NoInterrupt: bc.noInterrupt})
			p := load(b, h, "phase-health", Spec{Limits: Limits{MaxInstances: 1}})
			obj := map[string]any{"kind": "Database", "status": map[string]any{"phase": "Ready"}}
			for b.Loop() {
				if _, err := p.Health(context.Background(), obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
