package main

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

// BenchmarkNative runs the plugin's handler and the SDK natively over the
// input of the engine's benchmark B6 (5,000 ConfigMaps of about 2 KB): the
// baseline B6 compares the same code in WebAssembly with.
func BenchmarkNative(b *testing.B) {
	const n = 5000
	in, err := json.Marshal(map[string]any{"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
		"functionConfig": map[string]any{"data": map[string]any{"team": "payments"}},
		"items":          sdktest.ConfigMaps(n)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	cpu := cpuTime()
	for b.Loop() {
		out, err := sdk.ServeTransform(context.Background(), addLabels, in)
		if err != nil || len(out) < len(in) {
			b.Fatalf("%d bytes out: %v", len(out), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n/1000, "µs/object")
	b.ReportMetric((cpuTime()-cpu).Seconds()*1e6/float64(b.N)/n, "cpu-µs/object")
}

// cpuTime is the CPU time this process has used: on a shared machine it
// moves less than wall time with the other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
