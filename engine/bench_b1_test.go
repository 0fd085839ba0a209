package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB1 is Flux's own benchmark shape: N apps, each a GitRepository
// and a Kustomization with 4 objects (Deployment, Service, ConfigMap,
// ServiceAccount) and wait: true, on a real API server, with Deployments
// turned ready 500 ms after each change by a stand-in Deployment
// controller. It measures, for the implementation running as its own
// processes, the time from creating every object to every Kustomization
// Ready, the spread of per-app ready times, the processes' peak RSS and CPU
// time, and the requests their Kubernetes clients sent per app.
//
// WEIR_B1_APPS sets N (default 100). The engine always runs; WEIR_B1_FLUX
// adds the same workload against Flux's source-controller and
// kustomize-controller (`make flux`), one run per comma-separated entry:
// "default" for Flux's default flags, or "S/K" for --concurrent S on
// source-controller and K on kustomize-controller (`make bench-flux`).
// WEIR_B1_SHARDS=3 runs three engine processes instead of one, each with
// its own shard's selector, and labels the apps round-robin; RSS, CPU and
// requests are then the sums over them. WEIR_B1_CPUPROFILE records the
// (first) engine's CPU profile.
func BenchmarkB1(b *testing.B) {
	ctrl.SetLogger(logr.Discard())
	apps, shards := 100, 1
	if v, err := strconv.Atoi(os.Getenv("WEIR_B1_APPS")); err == nil && v > 0 {
		apps = v
	}
	if v, err := strconv.Atoi(os.Getenv("WEIR_B1_SHARDS")); err == nil && v > 0 {
		shards = v
	}
	weir := b1Impl{name: "weir", shards: shards, start: startWeirB1}
	if shards > 1 {
		weir.name = fmt.Sprintf("weir-shards=%d", shards)
	}
	impls := []b1Impl{weir}
	flux, err := fluxB1Impls(os.Getenv("WEIR_B1_FLUX"))
	if err != nil {
		b.Fatal(err)
	}
	impls = append(impls, flux...)
	for _, impl := range impls {
		b.Run(fmt.Sprintf("apps=%d/%s", apps, impl.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runB1(b, apps, impl)
			}
		})
	}
}

// b1Impl is one implementation of the GA APIs that B1 measures: start runs
// it against the test control plane, limited to namespace ns, and returns
// its processes once they serve.
type b1Impl struct {
	name string
	// shards > 1 labels the apps round-robin across that many shards.
	shards int
	start  func(b *testing.B, ctx context.Context, ns string, shards int, logs io.Writer) []*testenv.Process
}

const b1App = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
data: {greeting: hello}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
`

// b1Timeout bounds one run: Flux with its default flags needs minutes for
// a few hundred apps on two cores.
const b1Timeout = 45 * time.Minute

func runB1(b *testing.B, apps int, impl b1Impl) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(b)
	git := testenv.NewGitServer(b)
	repo := git.NewRepo(b, "apps")
	repo.Commit("apps", map[string]string{"app/all.yaml": b1App})
	env.Manager(b, func(_ context.Context, mgr ctrl.Manager) error {
		return testenv.ReadyDeployments(mgr, 500*time.Millisecond)
	})
	logs := &syncBuffer{}
	var out io.Writer = logs
	if p := os.Getenv("WEIR_B1_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		out = f
	}
	procs := impl.start(b, ctx, ns, impl.shards, out)
	profiled := profileEngine(b, procs[0].MetricsAddr)

	b.StartTimer()
	start := time.Now()
	for i := 0; i < apps; i++ {
		name := fmt.Sprintf("app-%04d", i)
		gr := testenv.GitRepository(ns, name, git.URL("apps"))
		ks := testenv.Kustomization(ns, name, name, "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.NamePrefix = name + "-"
			k.Spec.Wait = true
			k.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
		})
		for _, o := range []client.Object{gr, ks} {
			if impl.shards > 1 {
				o.SetLabels(map[string]string{shardKey: shardName(i%impl.shards, impl.shards)})
			}
			if err := env.Client.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	readyAt := map[string]time.Duration{}
	deadline := time.Now().Add(b1Timeout)
	for len(readyAt) < apps {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d apps ready after %s\n%s", len(readyAt), apps, b1Timeout, tail(logs.String(), 2000))
		}
		var list kustomizev1.KustomizationList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		for i := range list.Items {
			k := &list.Items[i]
			if _, done := readyAt[k.Name]; !done && conditions.IsReady(k) && strings.HasPrefix(k.Status.LastAppliedRevision, "main@sha1:") {
				readyAt[k.Name] = time.Since(start)
			}
		}
		// Listing every Kustomization is load on the API server the
		// implementation shares: poll less often for large N (resolution:
		// the interval).
		time.Sleep(time.Duration(min(100+apps/2, 1000)) * time.Millisecond)
	}
	total := time.Since(start)
	b.StopTimer()
	profiled()

	var sources sourcev1.GitRepositoryList
	if err := env.Client.List(ctx, &sources, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	for _, s := range sources.Items {
		if !conditions.IsReady(&s) {
			b.Fatalf("source %s not ready: %s", s.Name, conditions.GetMessage(&s, meta.ReadyCondition))
		}
	}
	times := make([]time.Duration, 0, apps)
	for _, d := range readyAt {
		times = append(times, d)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(total.Seconds(), "s-all-ready")
	b.ReportMetric(times[len(times)/2].Seconds(), "s-p50-app")
	b.ReportMetric(times[len(times)*99/100].Seconds(), "s-p99-app")
	reportProcesses(b, apps, procs)
}

// reportProcesses reports the summed peak RSS, CPU time and client
// requests per app of an implementation's processes, and logs each
// process's share.
func reportProcesses(b *testing.B, apps int, procs []*testenv.Process) {
	var rss, cpu, reqs float64
	for _, p := range procs {
		u, err := p.Usage()
		if err != nil {
			b.Fatal(err)
		}
		n, err := p.ClientRequests()
		if err != nil {
			b.Fatal(err)
		}
		rss, cpu, reqs = rss+u.PeakRSSMiB, cpu+u.CPUSeconds, reqs+n
		b.Logf("%s: peak RSS %.0f MiB, CPU %.1f s, %.0f API requests (%.1f per app)",
			p.Name, u.PeakRSSMiB, u.CPUSeconds, n, n/float64(apps))
		// The engine's own count by verb and resource (Flux has none).
		if by, err := metricSeries(p.MetricsAddr, "weir_api_requests_total"); err == nil {
			for _, l := range requestDelta(nil, by) {
				if l.n >= float64(apps)/10 {
					b.Logf("  %6.2f/app %s", l.n/float64(apps), l.what)
				}
			}
		}
	}
	b.ReportMetric(rss, "MiB-peak-rss")
	b.ReportMetric(cpu, "s-cpu")
	b.ReportMetric(reqs/float64(apps), "req/app")
}

// startWeirB1 runs the engine binary with --concurrent WEIR_B1_CONCURRENT
// (default 10), once per shard.
func startWeirB1(b *testing.B, ctx context.Context, ns string, shards int, logs io.Writer) []*testenv.Process {
	bin := buildEngine(b)
	var procs []*testenv.Process
	for s := range max(shards, 1) {
		p := &testenv.Process{Name: "engine", HealthAddr: freeAddr(b), MetricsAddr: freeAddr(b)}
		args := []string{"run", "--kubeconfig", env.KubeconfigFile(b),
			"--health-addr", p.HealthAddr, "--metrics-addr", p.MetricsAddr, "--storage-path", b.TempDir(),
			"--storage-addr", freeAddr(b), "--receiver-addr", freeAddr(b), "--plugin-cache-dir", b.TempDir(),
			"--watch-namespace", ns, "--log-level", logLevel(), "--concurrent", concurrent()}
		if shards > 1 {
			p.Name = "engine-" + shardName(s, shards)
			args = append(args, "--watch-label-selector", shardSelector(shardName(s, shards)))
		}
		p.Cmd = exec.CommandContext(ctx, bin, args...)
		p.Cmd.Stderr = logs
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Stop)
		if err := p.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	return procs
}

// fluxB1Impls parses WEIR_B1_FLUX into runs of Flux's controllers.
func fluxB1Impls(spec string) ([]b1Impl, error) {
	var impls []b1Impl
	var once sync.Once
	var crdErr error
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var source, kustomize int
		name := "flux-default"
		if entry != "default" {
			s, k, ok := strings.Cut(entry, "/")
			var err1, err2 error
			source, err1 = strconv.Atoi(s)
			kustomize, err2 = strconv.Atoi(k)
			if !ok || err1 != nil || err2 != nil || source < 1 || kustomize < 1 {
				return nil, fmt.Errorf("WEIR_B1_FLUX: %q is neither \"default\" nor SOURCE/KUSTOMIZE workers", entry)
			}
			name = fmt.Sprintf("flux-%d-%d", source, kustomize)
		}
		impls = append(impls, b1Impl{name: name, start: func(b *testing.B, ctx context.Context, ns string, _ int, logs io.Writer) []*testenv.Process {
			dir, err := testenv.FluxBinDir()
			if err != nil {
				b.Fatal(err)
			}
			once.Do(func() { crdErr = testenv.InstallFluxCRDs(env.Config, dir) })
			if crdErr != nil {
				b.Fatal(crdErr)
			}
			f, err := testenv.StartFlux(ctx, testenv.FluxOptions{BinDir: dir, Kubeconfig: env.KubeconfigFile(b),
				Namespace: ns, SourceConcurrent: source, KustomizeConcurrent: kustomize,
				StorageDir: b.TempDir(), LogLevel: logLevel(), Logs: logs})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(f.Stop)
			return f.Processes()
		}})
	}
	return impls, nil
}

// shardName is the name of shard i of n; one shard has none.
func shardName(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("shard%d", i+1)
}

// profileEngine records a CPU profile of the engine process from its
// /debug/pprof/ endpoint into WEIR_B1_CPUPROFILE, when that is set, for
// WEIR_B1_PROFILE_SECONDS (default 60) from the start of the run. The
// returned func waits for the profile.
func profileEngine(b *testing.B, metrics string) func() {
	path := os.Getenv("WEIR_B1_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	seconds := "60"
	if v := os.Getenv("WEIR_B1_PROFILE_SECONDS"); v != "" {
		seconds = v
	}
	done := make(chan error, 1)
	go func() {
		// The engine needs a moment to listen; retry until it does.
		var resp *http.Response
		var err error
		for range 100 {
			if resp, err = http.Get("http://" + metrics + "/debug/pprof/profile?seconds=" + seconds); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() {
		if err := <-done; err != nil {
			b.Errorf("profiling the engine: %v", err)
		}
	}
}

// apiRequests sums the engine's requests to the API server by method, from
// client-go's rest_client_requests_total on its metrics address. Watches
// count once each, when they start.
func apiRequests(metrics string) (map[string]float64, error) {
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, "rest_client_requests_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		method := "other"
		for _, l := range strings.Split(labels, ",") {
			if v, ok := strings.CutPrefix(l, "method="); ok {
				method = strings.Trim(v, `"`)
			}
		}
		out[method] += n
	}
	if len(out) == 0 {
		return nil, errors.New("no rest_client_requests_total in the engine's metrics")
	}
	return out, nil
}

// procUsage reads a process's peak RSS (MiB) and CPU time (s).
func procUsage(pid int) (float64, float64, error) {
	u, err := testenv.ProcessUsage(pid)
	return u.PeakRSSMiB, u.CPUSeconds, err
}

// concurrent is the engine's --concurrent (WEIR_B1_CONCURRENT, default 10).
func concurrent() string {
	if v := os.Getenv("WEIR_B1_CONCURRENT"); v != "" {
		return v
	}
	return "10"
}

func logLevel() string {
	if os.Getenv("WEIR_B1_LOG") != "" {
		return "debug"
	}
	return "error"
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
