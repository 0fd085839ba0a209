package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func TestMatches(t *testing.T) {
	ev := abi.Event{InvolvedObject: abi.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "web"}, Severity: "info"}
	errEv := ev
	errEv.Severity = "error"
	plugin := func(f func(*v1alpha1.NotifyPoint)) *v1alpha1.Plugin {
		p := &v1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "n"},
			Spec: v1alpha1.PluginSpec{Notify: &v1alpha1.NotifyPoint{AllowedHosts: []string{"https://x"}}}}
		if f != nil {
			f(p.Spec.Notify)
		}
		return p
	}
	other := plugin(nil)
	other.Namespace = "other"
	suspended := plugin(nil)
	suspended.Spec.Suspend = true
	transformOnly := &v1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Namespace: "apps"}, Spec: v1alpha1.PluginSpec{Transform: &v1alpha1.TransformPoint{}}}
	tests := []struct {
		name string
		p    *v1alpha1.Plugin
		ev   abi.Event
		want bool
	}{
		{"every source", plugin(nil), ev, true},
		{"another namespace", other, ev, false},
		{"suspended", suspended, ev, false},
		{"no notify point", transformOnly, ev, false},
		{"kind matches", plugin(func(n *v1alpha1.NotifyPoint) { n.EventSources = []v1alpha1.EventSource{{Kind: "Kustomization"}} }), ev, true},
		{"kind and name", plugin(func(n *v1alpha1.NotifyPoint) {
			n.EventSources = []v1alpha1.EventSource{{Kind: "Kustomization", Name: "web"}}
		}), ev, true},
		{"wildcard name", plugin(func(n *v1alpha1.NotifyPoint) {
			n.EventSources = []v1alpha1.EventSource{{Kind: "Kustomization", Name: "*"}}
		}), ev, true},
		{"other name", plugin(func(n *v1alpha1.NotifyPoint) {
			n.EventSources = []v1alpha1.EventSource{{Kind: "Kustomization", Name: "api"}}
		}), ev, false},
		{"other kind", plugin(func(n *v1alpha1.NotifyPoint) { n.EventSources = []v1alpha1.EventSource{{Kind: "GitRepository"}} }), ev, false},
		{"errors only, info event", plugin(func(n *v1alpha1.NotifyPoint) { n.EventSeverity = "error" }), ev, false},
		{"errors only, error event", plugin(func(n *v1alpha1.NotifyPoint) { n.EventSeverity = "error" }), errEv, true},
	}
	for _, tt := range tests {
		if got := Matches(tt.p, tt.ev); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestEnqueueNeverBlocks(t *testing.T) {
	d, err := New(nil, wasm.NewCatalog(), Options{QueueSize: 8}, nil, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			if d.Enqueue(abi.Event{Reason: "x"}) {
				accepted++
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Enqueue blocked on a full queue")
	}
	if accepted != 8 {
		t.Errorf("accepted %d events, want the queue size 8", accepted)
	}
	if got := testutil.ToFloat64(d.events.WithLabelValues("", OutcomeDropped)); got != 992 {
		t.Errorf("dropped counter %v, want 992", got)
	}
}

// sinkServer records what a notifier POSTs.
type sinkServer struct {
	mu   sync.Mutex
	got  []map[string]any
	auth []string
	srv  *httptest.Server
}

func newSink(t *testing.T) *sinkServer {
	s := &sinkServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		s.mu.Lock()
		s.got = append(s.got, m)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sinkServer) received() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.got...)
}

func TestEventsReachNotifyPlugins(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(t)
	sink := newSink(t)
	u, _ := url.Parse(sink.srv.URL)

	host, err := wasm.NewHost(wasm.Options{CacheDir: t.TempDir()})
	g.Expect(err).NotTo(HaveOccurred())
	defer host.Close(context.Background())
	catalog := wasm.NewCatalog()
	module := testenv.ExamplePlugin(t, "webhook-notifier")
	load := func(name string, allowed []string, sev string) {
		p := &v1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.PluginSpec{
			URL: "oci://registry.example.com/webhook-notifier:v1", Verify: v1alpha1.PluginVerification{},
			Notify: &v1alpha1.NotifyPoint{AllowedHosts: []string{"http://" + u.Host}, EventSeverity: sev,
				EventSources: []v1alpha1.EventSource{{Kind: "Kustomization"}}}}}
		p.Spec.Verify.SecretRef.Name = "keys"
		g.Expect(env.Client.Create(ctx, p)).To(Succeed())
		loaded, err := host.Load(ctx, wasm.Spec{Key: wasm.Key{Namespace: ns, Name: name}, Wasm: module,
			Config: map[string]any{"url": sink.srv.URL + "/" + name}, AllowedHosts: allowed,
			HTTPHeaders: map[string]string{"Authorization": "Bearer from-secret"}})
		g.Expect(err).NotTo(HaveOccurred())
		catalog.Set(ctx, wasm.Key{Namespace: ns, Name: name}, wasm.Entry{Plugin: loaded, Digest: "sha256:test"})
	}
	load("all", []string{u.Host}, "info")
	load("errors", []string{u.Host}, "error")
	load("elsewhere", []string{"hooks.example.com:443"}, "info") // its url is not allowed

	reg := prometheus.NewRegistry()
	d, err := New(env.Client, catalog, Options{Backoff: 10 * time.Millisecond, Retries: 1}, reg, logr.Discard())
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = d.Start(ctx) }()

	base := record.NewFakeRecorder(100)
	rec := d.Recorder(base, "kustomize-controller", env.Scheme)
	k := testenv.Kustomization(ns, "web", "repo", "./")
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	rev := "main@sha1:1111111111111111111111111111111111111111"
	rec.AnnotatedEventf(k, map[string]string{"kustomize.toolkit.fluxcd.io/revision": rev}, corev1.EventTypeNormal, "ReconciliationSucceeded", "Applied revision: %s", rev)
	rec.AnnotatedEventf(k, map[string]string{"kustomize.toolkit.fluxcd.io/revision": rev}, corev1.EventTypeNormal, "ReconciliationSucceeded", "Applied revision: %s", rev) // duplicate
	rec.Event(k, corev1.EventTypeWarning, "HealthCheckFailed", "timeout waiting for Deployment/web")

	g.Eventually(func() int { return len(sink.received()) }, 20*time.Second, 50*time.Millisecond).Should(Equal(3))
	g.Consistently(func() int { return len(sink.received()) }, time.Second, 100*time.Millisecond).Should(Equal(3))
	byText := map[string]map[string]any{}
	for _, m := range sink.received() {
		byText[m["text"].(string)+"|"+m["severity"].(string)] = m
	}
	ok := byText["[info] Kustomization/"+ns+"/web: Applied revision: "+rev+"|info"]
	g.Expect(ok).NotTo(BeNil(), "%v", sink.received())
	g.Expect(ok["reason"]).To(Equal("ReconciliationSucceeded"))
	g.Expect(ok["metadata"]).To(HaveKeyWithValue("revision", rev))
	g.Expect(byText).To(HaveKey("[error] Kustomization/" + ns + "/web: timeout waiting for Deployment/web|error"))
	g.Expect(sink.auth).To(HaveEach("Bearer from-secret"), "the host injects the secret header")

	// Base recorder still saw every event; the disallowed plugin failed.
	g.Expect(base.Events).To(HaveLen(3))
	g.Eventually(func() float64 {
		return testutil.ToFloat64(d.events.WithLabelValues(ns+"/elsewhere", OutcomeFailed))
	}, 10*time.Second).Should(Equal(2.0))
	g.Expect(testutil.ToFloat64(d.events.WithLabelValues(ns+"/all", OutcomeDuplicate))).To(Equal(1.0))
	g.Expect(testutil.ToFloat64(d.events.WithLabelValues(ns+"/errors", OutcomeDelivered))).To(Equal(1.0))
}
