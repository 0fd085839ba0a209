package plugin

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/oci"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkPluginReady measures a Plugin object's way from Create to
// Ready=True for the add-labels example (about 3.5 MB of wasm), through the
// real controller: tag resolved in a local registry, cosign signature
// verified, layer pulled by digest, metadata checked, module compiled and
// swapped into the catalog, status written.
//
// Every iteration gets a new namespace, a new controller manager whose
// cache sees only that namespace, a new Host and a new Catalog, so nothing
// is shared in memory between iterations. cold gives each iteration an
// empty compilation cache directory; warm reuses one directory that a
// previous load filled, as a restarted engine would.
//
// The split comes from the registry requests of the same run: pickup is
// Create to the first registry request; resolve+verify runs to the first
// request of the pull (the manifest by digest); pull ends when the layer's
// body is closed; load is the rest (ABI check, compile or cache read,
// catalog swap, status patch, watch delivery).
func BenchmarkPluginReady(b *testing.B) {
	// controller-runtime prints a warning with a stack trace, into the
	// middle of a result line, when no logger was set 30 s after first use.
	ctrl.SetLogger(logr.Discard())
	ctx := context.Background()
	module := testenv.ExamplePlugin(b, "add-labels")
	b.Logf("add-labels module: %d bytes (%.2f MiB) with metadata", len(module), float64(len(module))/(1<<20))
	reg := testenv.StartRegistry(b)
	keys, err := oci.GenerateKeyPair([]byte("pw"))
	if err != nil {
		b.Fatal(err)
	}
	signer, err := oci.LoadSigner(keys.Private, []byte("pw"))
	if err != nil {
		b.Fatal(err)
	}
	digest, err := oci.Push(ctx, module, reg.Host+"/add-labels:bench",
		oci.Module{Name: "add-labels", Version: "0.1.0", ABIVersion: "v1", Capabilities: []string{"transform"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := oci.Sign(ctx, digest, signer); err != nil {
		b.Fatal(err)
	}
	watcher, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}

	// The warm directory is filled once, before any timing.
	warmDir := b.TempDir()
	fill, err := wasm.NewHost(wasm.Options{CacheDir: warmDir})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fill.Load(ctx, wasm.Spec{Key: wasm.Key{Namespace: "fill", Name: "add-labels"}, Wasm: module}); err != nil {
		b.Fatal(err)
	}
	_ = fill.Close(ctx)

	for _, bc := range []struct {
		name     string
		cacheDir func() string
	}{
		{"cold", func() string { return b.TempDir() }},
		{"warm", func() string { return warmDir }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var sum phases
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				ns := env.Namespace(b)
				for name, data := range map[string]map[string]string{
					"keys":     {"trusted.pub": string(keys.Public)},
					"no-creds": {"readme": "no .dockerconfigjson"},
				} {
					if err := env.Client.Create(ctx, testenv.Secret(ns, name, data)); err != nil {
						b.Fatal(err)
					}
				}
				w, err := watcher.Watch(ctx, &v1alpha1.PluginList{}, client.InNamespace(ns))
				if err != nil {
					b.Fatal(err)
				}
				rec := &recorder{}
				stop := startController(b, ns, bc.cacheDir(), rec, w)
				p := testenv.Plugin(ns, "labels", "oci://"+reg.Host+"/add-labels:bench", "keys")

				b.StartTimer()
				created := time.Now()
				if err := env.Client.Create(ctx, p); err != nil {
					b.Fatal(err)
				}
				ready := waitReady(b, w, "labels")
				b.StopTimer()

				w.Stop()
				stop()
				sum.add(rec.split(b, created, ready, digest.DigestStr()))
			}
			n := float64(b.N)
			b.ReportMetric(sum.total.Seconds()*1000/n, "ms/plugin")
			b.ReportMetric(sum.pickup.Seconds()*1000/n, "pickup-ms")
			b.ReportMetric(sum.verify.Seconds()*1000/n, "resolve+verify-ms")
			b.ReportMetric(sum.pull.Seconds()*1000/n, "pull-ms")
			b.ReportMetric(sum.load.Seconds()*1000/n, "load-ms")
		})
	}
}

// startController runs the Plugin controller for one namespace with its
// own Host (compilation cache in cacheDir) and Catalog, its registry
// requests recorded by rec. The returned func stops it.
//
// It returns once the controller has handled a probe: a Plugin whose
// registry Secret lacks credentials stalls without a registry request, and
// stalled Plugins are not retried. Without it the first Plugin would wait
// for the controller's start (client-go polls for informer sync every
// 100 ms), which is not what this benchmark measures.
func startController(b *testing.B, ns, cacheDir string, rec *recorder, w watch.Interface) (stop func()) {
	b.Helper()
	host, err := wasm.NewHost(wasm.Options{CacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	skip := true
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner),
		Host: host, Catalog: wasm.NewCatalog(),
		Options: Options{RegistryOptions: []oci.Option{oci.WithTransport(rec.transport())}}}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		b.Fatal("manager cache did not sync")
	}
	probe := testenv.Plugin(ns, "probe", "oci://registry.invalid/probe:v1", "keys", func(p *v1alpha1.Plugin) {
		p.Spec.SecretRef = &meta.LocalObjectReference{Name: "no-creds"}
	})
	if err := env.Client.Create(ctx, probe); err != nil {
		b.Fatal(err)
	}
	if p := waitCondition(b, w, "probe"); conditions.GetReason(p, meta.ReadyCondition) != v1alpha1.AuthenticationFailedReason {
		b.Fatalf("probe: %s", conditions.GetMessage(p, meta.ReadyCondition))
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("manager: %v", err)
		}
		_ = host.Close(context.Background())
	}
}

// waitReady returns when the watched Plugin name turns Ready=True, and
// fails the benchmark when it turns Ready=False.
func waitReady(b *testing.B, w watch.Interface, name string) time.Time {
	b.Helper()
	p := waitCondition(b, w, name)
	if !conditions.IsReady(p) {
		b.Fatalf("plugin not ready: %s", conditions.GetMessage(p, meta.ReadyCondition))
	}
	return time.Now()
}

// waitCondition returns the watched Plugin name once its Ready condition
// is True or False, failing the benchmark after a minute.
func waitCondition(b *testing.B, w watch.Interface, name string) *v1alpha1.Plugin {
	b.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			p, isPlugin := ev.Object.(*v1alpha1.Plugin)
			if !isPlugin || p.Name != name {
				continue
			}
			if conditions.IsTrue(p, meta.ReadyCondition) || conditions.IsFalse(p, meta.ReadyCondition) {
				return p
			}
		case <-deadline:
			b.Fatalf("plugin %s has no Ready verdict after a minute", name)
		}
	}
}

// phases of one Plugin's way to Ready.
type phases struct{ total, pickup, verify, pull, load time.Duration }

func (p *phases) add(q phases) {
	p.total += q.total
	p.pickup += q.pickup
	p.verify += q.verify
	p.pull += q.pull
	p.load += q.load
}

// recorder records when each registry request starts and when its
// response body is closed.
type recorder struct {
	mu   sync.Mutex
	reqs []request
}

type request struct {
	method, path string
	start, end   time.Time
}

func (r *recorder) transport() http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := http.DefaultTransport.RoundTrip(req)
		r.mu.Lock()
		i := len(r.reqs)
		r.reqs = append(r.reqs, request{method: req.Method, path: req.URL.Path, start: start, end: time.Now()})
		r.mu.Unlock()
		if err != nil {
			return resp, err
		}
		resp.Body = &closeHook{ReadCloser: resp.Body, closed: func() {
			r.mu.Lock()
			r.reqs[i].end = time.Now()
			r.mu.Unlock()
		}}
		return resp, nil
	})
}

// split divides created..ready at the first registry request, the first
// request for the manifest by digest (the pull) and the end of the last
// request.
func (r *recorder) split(b *testing.B, created, ready time.Time, digest string) phases {
	b.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		b.Fatal("no registry requests recorded")
	}
	first, pullStart, last := r.reqs[0].start, time.Time{}, r.reqs[0].end
	for _, q := range r.reqs {
		if pullStart.IsZero() && strings.HasSuffix(q.path, "/manifests/"+digest) {
			pullStart = q.start
		}
		if q.end.After(last) {
			last = q.end
		}
	}
	if pullStart.IsZero() {
		b.Fatalf("no pull of %s among %d registry requests", digest, len(r.reqs))
	}
	return phases{total: ready.Sub(created), pickup: first.Sub(created), verify: pullStart.Sub(first),
		pull: last.Sub(pullStart), load: ready.Sub(last)}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeHook struct {
	io.ReadCloser
	once   sync.Once
	closed func()
}

func (c *closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.closed)
	return err
}
