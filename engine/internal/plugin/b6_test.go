package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

// b6Objects is the size of B6's transform: 5,000 ConfigMaps of about 2 KB.
const b6Objects = 5000

// b6Items returns the JSON of B6's objects, as the Kustomization stage
// hands them to TransformJSON.
func b6Items(tb testing.TB) [][]byte {
	objs := sdktest.ConfigMaps(b6Objects)
	items := make([][]byte, len(objs))
	for i, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		items[i] = b
	}
	return items
}

// BenchmarkB6 measures what a plugin costs per object through the engine's
// own host, with the limits and the interruption the Kustomization stage
// uses, next to the same handler and SDK run natively in the same run
// (plugins/examples/add-labels BenchmarkNative, run as a child process).
func BenchmarkB6(b *testing.B) {
	b.Run("transform/add-labels", func(b *testing.B) {
		h := newTestHost(b, Options{})
		p := load(b, h, "add-labels", Spec{Config: map[string]any{"team": "payments"}})
		items := b6Items(b)
		ctx := context.Background()
		check := func() {
			out, err := p.TransformJSON(ctx, items, nil)
			if err != nil || len(out.Items) != b6Objects || !bytes.Contains(out.Items[b6Objects-1], []byte(`"team":"payments"`)) {
				b.Fatalf("transform: %v", err)
			}
		}
		check()
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for b.Loop() {
			check()
		}
		cpuPerObject := (cpuTime() - cpu).Seconds() * 1e6 / float64(b.N) / b6Objects
		b.ReportMetric(cpuPerObject, "cpu-µs/object")
		perObject := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / b6Objects / 1000
		b.ReportMetric(perObject, "µs/object")
		b.ReportMetric(guestMiB(b, p), "guest-MiB")
		if native, err := nativeB6(); err != nil {
			b.Logf("native baseline not measured: %v", err)
		} else {
			b.ReportMetric(native, "native-cpu-µs/object")
			b.ReportMetric(cpuPerObject/native, "x-native")
		}
	})
	b.Run("health/phase-health", func(b *testing.B) {
		h := newTestHost(b, Options{})
		p := load(b, h, "phase-health", Spec{})
		obj := []byte(`{"apiVersion":"db.example.com/v1","kind":"Database","metadata":{"name":"db","namespace":"apps","generation":2},` +
			`"spec":{"size":"small"},"status":{"observedGeneration":2,"phase":"Ready","conditions":[{"type":"Ready","status":"True","reason":"Running"}]}}`)
		ctx := context.Background()
		if _, err := p.HealthJSON(ctx, obj); err != nil { // a warm instance
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for b.Loop() {
			if res, err := p.HealthJSON(ctx, obj); err != nil || res.Status != "Current" {
				b.Fatalf("health: %v %v", res, err)
			}
		}
		b.ReportMetric((cpuTime()-cpu).Seconds()*1e6/float64(b.N), "cpu-µs/object")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/object")
	})
	b.Run("cached-start", func(b *testing.B) {
		// A new process with the compiled module in the on-disk cache:
		// from NewHost to the first call's answer.
		dir := b.TempDir()
		wasm := writeFile(b, dir, "add-labels.wasm", modules["add-labels"])
		cache := dir + "/cache"
		if _, err := runStartChild(wasm, cache); err != nil { // fills the cache
			b.Fatal(err)
		}
		var total time.Duration
		for b.Loop() {
			d, err := runStartChild(wasm, cache)
			if err != nil {
				b.Fatal(err)
			}
			total += d
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-first-call")
	})
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

func guestMiB(tb testing.TB, p *Plugin) float64 {
	inst, err := p.pool.get(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer p.pool.put(inst)
	return float64(inst.mod.Memory().Size()) / (1 << 20)
}

func writeFile(tb testing.TB, dir, name string, b []byte) string {
	path := dir + "/" + name
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// runStartChild runs this test binary as a new process that loads the
// module from the cache directory and makes one call; it returns the time
// the child measured from NewHost to the answer.
func runStartChild(wasm, cache string) (time.Duration, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), startChildEnv+"="+wasm, startChildCacheEnv+"="+cache)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("child: %w\n%s", err, out)
	}
	m := regexp.MustCompile(`first-call-ns=(\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("child printed no time:\n%s", out)
	}
	ns, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return time.Duration(ns), nil
}

// startChildEnv names the module a cached-start child loads; the cache
// directory is in startChildCacheEnv.
const (
	startChildEnv      = "WEIR_START_CHILD_WASM"
	startChildCacheEnv = "WEIR_START_CHILD_CACHE"
)

// cachedStartChild is the child process of B6's cached-start case, run by
// TestMain instead of the tests: it loads the module from the cache
// directory, makes one call, and prints the time from NewHost to the
// answer.
func cachedStartChild(wasm, cache string) error {
	b, err := os.ReadFile(wasm)
	if err != nil {
		return err
	}
	start := time.Now()
	h, err := NewHost(Options{CacheDir: cache})
	if err != nil {
		return err
	}
	defer h.Close(context.Background())
	p, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "b6", Name: "start"}, Wasm: b, Config: map[string]any{"a": "b"}})
	if err != nil {
		return err
	}
	if _, err := p.TransformJSON(context.Background(), [][]byte{[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)}, nil); err != nil {
		return err
	}
	fmt.Printf("first-call-ns=%d\n", time.Since(start).Nanoseconds())
	return nil
}

var native struct {
	once sync.Once
	us   float64
	err  error
}

// nativeB6 runs the add-labels example's BenchmarkNative once per process
// and returns its µs/object.
func nativeB6() (float64, error) {
	native.once.Do(func() {
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkNative$", "-benchtime", "10x", ".")
		cmd.Dir = "../../../plugins/examples/add-labels"
		cmd.Env = append(os.Environ(), "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			native.err = fmt.Errorf("%w\n%s", err, out)
			return
		}
		re := regexp.MustCompile(`([0-9.]+) cpu-µs/object`)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				native.us, native.err = strconv.ParseFloat(m[1], 64)
				return
			}
		}
		native.err = fmt.Errorf("no µs/object in:\n%s", out)
	})
	return native.us, native.err
}
