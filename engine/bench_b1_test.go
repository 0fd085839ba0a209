package engine

import (
	"bytes"
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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB1 is Flux's own benchmark shape: N apps, each a GitRepository
// and a Kustomization with 4 objects (Deployment, Service, ConfigMap,
// ServiceAccount) and wait: true, on a real API server, with Deployments
// turned ready 500 ms after each change by a stand-in Deployment
// controller. It measures, for the engine binary running as its own
// process, the time from creating every object to every Kustomization
// Ready, the spread of per-app ready times, and the engine's peak RSS and
// CPU time. WEIR_B1_APPS sets N (default 100). WEIR_B1_SHARDS=3 runs
// three engine processes instead, each with its own shard's selector, and
// labels the apps round-robin; RSS, CPU and requests are then the sums
// over them.
func BenchmarkB1(b *testing.B) {
	apps, shards := 100, 1
	if v, err := strconv.Atoi(os.Getenv("WEIR_B1_APPS")); err == nil && v > 0 {
		apps = v
	}
	if v, err := strconv.Atoi(os.Getenv("WEIR_B1_SHARDS")); err == nil && v > 0 {
		shards = v
	}
	name := fmt.Sprintf("apps=%d", apps)
	if shards > 1 {
		name += fmt.Sprintf("/shards=%d", shards)
	}
	b.Run(name, func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runB1(b, apps, shards)
		}
	})
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

func runB1(b *testing.B, apps, shards int) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(b)
	git := testenv.NewGitServer(b)
	repo := git.NewRepo(b, "apps")
	repo.Commit("apps", map[string]string{"app/all.yaml": b1App})
	env.Manager(b, func(ctx context.Context, mgr ctrl.Manager) error {
		return ctrl.NewControllerManagedBy(mgr).For(&appsv1.Deployment{}).Named("deployment-standin").
			Complete(&deploymentStandIn{c: mgr.GetClient(), delay: 500 * time.Millisecond, seen: map[string]time.Time{}})
	})

	bin := buildEngine(b)
	var others []*replica // the other shards' engines
	for s := 2; s <= shards; s++ {
		others = append(others, startReplica(b, bin, shardName(s-1, shards), "--watch-namespace", ns,
			"--log-level", "error", "--concurrent", concurrent(), "--watch-label-selector", shardSelector(shardName(s-1, shards))))
	}
	var stderr bytes.Buffer
	metrics := freeAddr(b)
	args := []string{"run", "--kubeconfig", env.KubeconfigFile(b),
		"--health-addr", freeAddr(b), "--metrics-addr", metrics, "--storage-path", b.TempDir(),
		"--storage-addr", freeAddr(b), "--receiver-addr", freeAddr(b), "--plugin-cache-dir", b.TempDir(),
		"--watch-namespace", ns, "--log-level", logLevel(), "--concurrent", concurrent()}
	if shards > 1 {
		args = append(args, "--watch-label-selector", shardSelector(shardName(0, shards)))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stderr = &stderr
	if p := os.Getenv("WEIR_B1_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		cmd.Stderr = f
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	profiled := profileEngine(b, metrics)
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
			if shards > 1 {
				o.SetLabels(map[string]string{shardKey: shardName(i%shards, shards)})
			}
			if err := env.Client.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	readyAt := map[string]time.Duration{}
	deadline := time.Now().Add(15 * time.Minute)
	for len(readyAt) < apps {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d apps ready after 15 minutes\n%s", len(readyAt), apps, tail(stderr.String(), 2000))
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
		// Listing every Kustomization is load on the API server the engine
		// shares: poll less often for large N (resolution: the interval).
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
	addrs, pids := []string{metrics}, []int{cmd.Process.Pid}
	for _, r := range others {
		addrs, pids = append(addrs, r.metrics), append(pids, r.cmd.Process.Pid)
	}
	byMethod := map[string]float64{}
	for _, addr := range addrs {
		counts, err := apiRequests(addr)
		if err != nil {
			b.Errorf("reading the engine's request counts: %v", err)
		}
		for method, n := range counts {
			byMethod[method] += n
		}
	}
	requests := 0.0
	for method, n := range byMethod {
		requests += n
		b.ReportMetric(n/float64(apps), strings.ToLower(method)+"/app")
	}
	b.ReportMetric(requests/float64(apps), "req/app")
	var rss, cpu float64
	for _, pid := range pids {
		r, c, err := procUsage(pid)
		if err != nil {
			return
		}
		rss, cpu = rss+r, cpu+c
	}
	b.ReportMetric(rss, "MiB-peak-rss")
	b.ReportMetric(cpu, "s-cpu")
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

// procUsage reads a process's peak RSS (MiB) and CPU time (s) from /proc.
func procUsage(pid int) (float64, float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	var rss float64
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			rss = kb / 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return rss, 0, err
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, 0x29)+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return rss, (utime + stime) / 100, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// deploymentStandIn plays the Deployment controller for the benchmark: a
// Deployment becomes available delay after each new generation.
type deploymentStandIn struct {
	c     client.Client
	delay time.Duration
	mu    sync.Mutex
	seen  map[string]time.Time
}

func (s *deploymentStandIn) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := s.c.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas > 0 {
		return ctrl.Result{}, nil
	}
	key := fmt.Sprintf("%s/%d", req.NamespacedName, d.Generation)
	s.mu.Lock()
	first, ok := s.seen[key]
	if !ok {
		first = time.Now()
		s.seen[key] = first
	}
	s.mu.Unlock()
	if wait := s.delay - time.Since(first); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	return ctrl.Result{}, client.IgnoreNotFound(s.c.Status().Update(ctx, d))
}
