package kustomization

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/ssa"
	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkTransformOverhead (B2) measures what a transform plugin adds to
// a Kustomization's reconcile, at the step level, with the reconciler's own
// steps: fetch (artifact download, untar, kustomize build, owner labels),
// runTransform with the add-labels example (two labels), and apply
// (fluxcd/pkg/ssa against the test API server, the client throttled as the
// engine's defaults: 100 QPS, burst 300).
//
// objects=N/transform is runTransform alone on a warm instance: the
// absolute cost per reconcile and per object. objects=N/reconcile runs
// fetch, transform and apply in sequence, each iteration into a new target
// namespace (every object is created), and reports each step's time and
// the transform's share: overhead-% is transform over fetch+apply, the
// reconcile without a transform.
//
// health/* is the per-object cost of judging one custom object's health:
// the phase-health example through the plugin host, against kstatus on
// the same object.
func BenchmarkTransformOverhead(b *testing.B) {
	// controller-runtime prints a warning with a stack trace, into the
	// middle of a result line, when no logger was set 30 s after first use.
	ctrl.SetLogger(logr.Discard())
	ctx := context.Background()
	host, err := wasm.NewHost(wasm.Options{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = host.Close(context.Background()) })
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 100, 300
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	store := &benchArtifacts{files: map[string][]byte{}}
	srv := httptest.NewServer(store)
	b.Cleanup(srv.Close)
	r := &Reconciler{Client: c, Options: Options{HTTPClient: srv.Client()}, waits: apply.NewWaits[*waitState]()}
	r.local = &apply.Cluster{RM: ssa.NewResourceManager(c, polling.NewStatusPoller(c, c.RESTMapper(), polling.Options{}), apply.Owner),
		Reader: c}
	ns := env.Namespace(b)

	plugin := testenv.Plugin(ns, "labels", "oci://registry.example.com/add-labels:v1", "keys")
	loaded, err := host.Load(ctx, wasm.Spec{Key: wasm.Key{Namespace: ns, Name: "labels"},
		Wasm: testenv.ExamplePlugin(b, "add-labels"), Config: map[string]any{"team": "platform", "cost-center": "cc-42"}})
	if err != nil {
		b.Fatal(err)
	}
	entry := wasm.Entry{Plugin: loaded, Digest: "sha256:bench"}

	for _, n := range []int{4, 100} {
		repo := fmt.Sprintf("apps-%d", n)
		store.publish(b, c, srv.URL, ns, repo, manifests(n))
		k := testenv.Kustomization(ns, repo, repo, "./", func(k *kustomizev1.Kustomization) { k.Spec.Prune = true })
		// The apply records its intent in the object's status, so the
		// object must exist (no controller runs here to act on it).
		if err := c.Create(ctx, k); err != nil {
			b.Fatal(err)
		}

		b.Run(fmt.Sprintf("objects=%d/transform", n), func(b *testing.B) {
			s := state{cluster: r.local}
			if err := r.fetch(ctx, k, &s); err != nil {
				b.Fatal(err)
			}
			if len(s.objects) != n {
				b.Fatalf("built %d objects, want %d", len(s.objects), n)
			}
			// The first call creates the instance; Plugins keep theirs.
			if _, err := r.runTransform(ctx, k, plugin, entry, s.objects); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				out, err := r.runTransform(ctx, k, plugin, entry, s.objects)
				if err != nil {
					b.Fatal(err)
				}
				if out[0].GetLabels()["cost-center"] != "cc-42" {
					b.Fatalf("not transformed: %v", out[0].GetLabels())
				}
			}
			per := float64(b.Elapsed().Microseconds()) / float64(b.N)
			b.ReportMetric(per/1000, "ms/reconcile")
			b.ReportMetric(per/float64(n), "µs/object")
		})

		b.Run(fmt.Sprintf("objects=%d/reconcile", n), func(b *testing.B) {
			var fetch, transform, apply time.Duration
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				o := k.DeepCopy()
				o.Spec.TargetNamespace = env.Namespace(b)
				s := state{cluster: r.local}
				b.StartTimer()
				t0 := time.Now()
				if err := r.fetch(ctx, o, &s); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				objs, err := r.runTransform(ctx, o, plugin, entry, s.objects)
				if err != nil {
					b.Fatal(err)
				}
				s.objects = objs
				t2 := time.Now()
				if err := r.apply(ctx, o, &s); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				b.StopTimer()
				if len(s.applied) != n {
					b.Fatalf("applied %d objects, want %d", len(s.applied), n)
				}
				fetch, transform, apply = fetch+t1.Sub(t0), transform+t2.Sub(t1), apply+t3.Sub(t2)
			}
			per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
			b.ReportMetric(per(fetch), "fetch-ms")
			b.ReportMetric(per(transform), "transform-ms")
			b.ReportMetric(per(apply), "apply-ms")
			b.ReportMetric(100*transform.Seconds()/(fetch+apply).Seconds(), "overhead-%")
		})
	}

	health, err := host.Load(ctx, wasm.Spec{Key: wasm.Key{Namespace: ns, Name: "phases"},
		Wasm: testenv.ExamplePlugin(b, "phase-health")})
	if err != nil {
		b.Fatal(err)
	}
	db := database()
	if _, err := health.Health(ctx, db.Object); err != nil {
		b.Fatal(err)
	}
	b.Run("health/phase-health", func(b *testing.B) {
		for b.Loop() {
			res, err := health.Health(ctx, db.Object)
			if err != nil || res.Status != "Current" {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/object")
	})
	b.Run("health/kstatus", func(b *testing.B) {
		for b.Loop() {
			res, err := status.Compute(db)
			if err != nil || res.Status != status.CurrentStatus {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/object")
	})
}

// manifests returns n objects (n a multiple of 4) as one file per app: a
// Deployment, its Service, ConfigMap and ServiceAccount, about 2.5 KB of
// YAML per app.
func manifests(n int) map[string]string {
	files := map[string]string{}
	for i := range n / 4 {
		files[fmt.Sprintf("app-%03d.yaml", i)] = fmt.Sprintf(appYAML, fmt.Sprintf("app-%03d", i))
	}
	return files
}

const appYAML = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-config
data:
  LOG_LEVEL: info
  LISTEN_ADDR: ":8080"
  FEATURE_FLAGS: "search,checkout,recommendations"
  config.yaml: |
    server:
      port: 8080
      readTimeout: 5s
    cache:
      size: 512Mi
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels: {app: %[1]s}
spec:
  selector: {app: %[1]s}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s, tier: backend}
  annotations: {description: "the %[1]s service"}
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s, tier: backend}
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: main
        image: ghcr.io/example/%[1]s:1.4.2
        args: ["--config=/etc/app/config.yaml"]
        ports:
        - {name: http, containerPort: 8080}
        envFrom:
        - configMapRef: {name: %[1]s-config}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        livenessProbe:
          httpGet: {path: /healthz, port: http}
          initialDelaySeconds: 10
        volumeMounts:
        - {name: config, mountPath: /etc/app}
      volumes:
      - name: config
        configMap: {name: %[1]s-config}
`

// database is a custom object that reports progress in status.phase, as
// the phase-health example expects.
func database() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Database",
		"metadata": map[string]any{"name": "orders", "namespace": "apps", "generation": int64(3),
			"labels": map[string]any{"app": "orders"}},
		"spec": map[string]any{"engine": "postgres", "version": "16", "storage": "20Gi", "replicas": int64(3)},
		"status": map[string]any{"phase": "Running", "observedGeneration": int64(3), "message": "3/3 replicas ready",
			"endpoints": []any{"orders-0.orders:5432", "orders-1.orders:5432", "orders-2.orders:5432"}},
	}}
}

// benchArtifacts serves tarballs as a source's storage would.
type benchArtifacts struct{ files map[string][]byte }

func (a *benchArtifacts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := a.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(b)
}

// publish stores a tarball of files and creates a GitRepository whose
// artifact it is. Call it before the server serves requests for it.
func (a *benchArtifacts) publish(b *testing.B, c client.Client, base, ns, name string, files map[string]string) {
	b.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		content := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	digest := fmt.Sprintf("%x", sha256.Sum256(buf.Bytes()))
	p := fmt.Sprintf("/gitrepository/%s/%s/%s.tar.gz", ns, name, digest)
	a.files[p] = buf.Bytes()
	ctx := context.Background()
	repo := testenv.GitRepository(ns, name, "https://example.com/x.git")
	if err := c.Create(ctx, repo); err != nil {
		b.Fatal(err)
	}
	size := int64(buf.Len())
	repo.Status.Artifact = &meta.Artifact{Path: p[1:], URL: base + p, Revision: "main@sha1:" + digest[:40],
		Digest: "sha256:" + digest, Size: &size, LastUpdateTime: metav1.Now()}
	if err := c.Status().Update(ctx, repo); err != nil {
		b.Fatal(err)
	}
}
