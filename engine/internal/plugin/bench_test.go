package plugin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// BenchmarkTransform measures one add-labels call over 10 ConfigMaps through
// a warm pool, with the default interrupt checks and without them.
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

// BenchmarkHealthC compares the C health plugin (cert-health, a hand-written
// JSON scanner) with the Go one (phase-health, the SDK's encoding/json) in
// the same run: on BenchmarkHealth's tiny object and on a ~2 KB Certificate
// as the API server returns it.
func BenchmarkHealthC(b *testing.B) {
	future := time.Now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	cert := certificate(certStatus(future,
		cond("Ready", "True", "Ready", "Certificate is up to date and has not expired"),
		cond("Issuing", "False", "", "")))
	cert["metadata"].(map[string]any)["annotations"] = map[string]any{
		"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 1200)}
	st := cert["status"].(map[string]any)
	st["notBefore"], st["renewalTime"], st["revision"] = "2026-01-01T00:00:00Z", future, int64(3)
	for _, plugin := range []string{"cert-health", "phase-health"} {
		for _, o := range []struct {
			name string
			obj  map[string]any
		}{{"tiny", map[string]any{"kind": "Database", "status": map[string]any{"phase": "Ready"}}}, {"certificate", cert}} {
			for _, mode := range []struct {
				name        string
				noInterrupt bool
			}{{"interruptible", false}, {"no-interrupt", true}} {
				b.Run(plugin+"/"+o.name+"/"+mode.name, func(b *testing.B) {
					h := newTestHost(b, Options{NoInterrupt: mode.noInterrupt})
					var p *Plugin
					if plugin == "cert-health" {
						p = loadCertHealth(b, h)
					} else {
						p = load(b, h, plugin, Spec{Limits: Limits{MaxInstances: 1}})
					}
					if _, err := p.Health(context.Background(), o.obj); err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for b.Loop() {
						if _, err := p.Health(context.Background(), o.obj); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/object")
				})
			}
		}
	}
}

// BenchmarkInterrupt compares the ways of stopping a runaway guest: none
// (Options.NoInterrupt), wazero's WithCloseOnContextDone, and the
// instrumented checks (the default), on a loop-heavy guest (a byte loop
// over 4 MiB in the fixture) and on the add-labels example over 10
// ConfigMaps.
func BenchmarkInterrupt(b *testing.B) {
	const scan = 4 << 20
	for _, mode := range []struct {
		name string
		opts Options
	}{
		{"none", Options{NoInterrupt: true}},
		{"context-done", Options{contextDone: true}},
		{"instrumented", Options{}},
	} {
		for _, guest := range []struct {
			name, plugin string
			rl           *abi.ResourceList
			bytes        int64
		}{
			{"scan-4MiB", "fixture", fixtureList(map[string]any{"mode": "scan", "size": fmt.Sprint(scan)}), scan},
			{"add-labels-10", "add-labels", &abi.ResourceList{Items: items(10)}, 0},
		} {
			b.Run(guest.name+"/"+mode.name, func(b *testing.B) {
				h := newTestHost(b, mode.opts)
				p := load(b, h, guest.plugin, Spec{Config: map[string]any{"team": "a"},
					Limits: Limits{MaxInstances: 1, Timeout: time.Minute}})
				if _, err := p.Transform(context.Background(), guest.rl); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(guest.bytes)
				for b.Loop() {
					if _, err := p.Transform(context.Background(), guest.rl); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
			})
		}
	}
}
