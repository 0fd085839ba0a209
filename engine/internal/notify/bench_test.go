package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// BenchmarkNotify (B7) sends events through a Dispatcher to the
// webhook-notifier example, which POSTs each one through the host's
// http_call to a local HTTP sink (allowedHosts is the sink's
// 127.0.0.1:port). The Plugin object lives in the test API server and the
// Dispatcher reads it through a manager's cache, as the engine does; the
// module is loaded into the catalog directly (the Plugin controller is B1's
// business). Each iteration is one batch through a new Dispatcher.
//
// unlimited/burst/no-interrupt runs the same batch with the guest compiled
// without the interrupt checks (Options.NoInterrupt of the plugin host), to
// show what those checks cost here: the guest's own work dominates one
// delivery.
//
// Reported: events/s delivered (batch size over first Enqueue to the last
// arrival at the sink), the latency from Enqueue to the sink receiving the
// event (p50, p99, max over every event of every iteration), and the
// delivered, dropped and failed counts per batch. The benchmark fails when
// an event is lost.
func BenchmarkNotify(b *testing.B) {
	// controller-runtime prints a warning with a stack trace, into the
	// middle of a result line, when no logger was set 30 s after first use.
	ctrl.SetLogger(logr.Discard())
	cacheDir := b.TempDir()
	for _, bc := range []struct {
		name   string
		opts   Options
		events int
		// gap paces Enqueue; zero sends the batch at once.
		gap         time.Duration
		noInterrupt bool
	}{
		// The defaults: 100 deliveries/s per Plugin after a burst of 200.
		{"default/burst", Options{}, 400, 0, false},
		// A rate limit below what the pipeline sustains: the queue absorbs
		// the batch and nothing is lost.
		{"rate=200/burst", Options{Rate: 200, Burst: 1}, 600, 0, false},
		// No effective limit: what one Plugin's sink sustains, and the
		// latency of a batch that queues up.
		{"unlimited/burst", Options{Rate: 1e9, Burst: 1 << 30}, 2000, 0, false},
		{"unlimited/burst/no-interrupt", Options{Rate: 1e9, Burst: 1 << 30}, 2000, 0, true},
		// No effective limit, 500 events/s offered: the latency of one event
		// when nothing queues in front of it.
		{"unlimited/paced-500/s", Options{Rate: 1e9, Burst: 1 << 30}, 500, 2 * time.Millisecond, false},
		{"unlimited/paced-1000/s", Options{Rate: 1e9, Burst: 1 << 30}, 1000, time.Millisecond, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newNotifyFixture(b, wasm.Options{CacheDir: cacheDir, NoInterrupt: bc.noInterrupt})
			var lat []time.Duration
			var elapsed time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := f.batch(b, bc.opts, bc.events, bc.gap)
				lat = append(lat, r.latencies...)
				elapsed += r.elapsed
				b.ReportMetric(r.delivered, "delivered/batch")
				b.ReportMetric(r.dropped, "dropped/batch")
				b.ReportMetric(r.failed, "failed/batch")
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(bc.events*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// notifyFixture is a sink, a namespace with one notify Plugin object that
// selects every event, the module loaded for it, and a manager whose cache
// the Dispatcher reads Plugins from.
type notifyFixture struct {
	ns      string
	reader  client.Reader
	catalog *wasm.Catalog
	sink    *benchSink
}

func newNotifyFixture(b *testing.B, hostOpts wasm.Options) *notifyFixture {
	b.Helper()
	ctx := context.Background()
	f := &notifyFixture{ns: env.Namespace(b), catalog: wasm.NewCatalog(), sink: &benchSink{}}
	srv := httptest.NewServer(f.sink)
	b.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	p := &v1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "webhook"}, Spec: v1alpha1.PluginSpec{
		URL:    "oci://registry.example.com/webhook-notifier:v1",
		Notify: &v1alpha1.NotifyPoint{AllowedHosts: []string{"http://" + u.Host}}}}
	p.Spec.Verify.SecretRef.Name = "keys"
	if err := env.Client.Create(ctx, p); err != nil {
		b.Fatal(err)
	}
	host, err := wasm.NewHost(hostOpts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = host.Close(context.Background()) })
	key := wasm.Key{Namespace: f.ns, Name: "webhook"}
	loaded, err := host.Load(ctx, wasm.Spec{Key: key, Wasm: testenv.ExamplePlugin(b, "webhook-notifier"),
		Config: map[string]any{"url": srv.URL + "/hook"}, AllowedHosts: []string{u.Host}})
	if err != nil {
		b.Fatal(err)
	}
	f.catalog.Set(ctx, key, wasm.Entry{Plugin: loaded, Digest: "sha256:bench"})
	mgr := env.Manager(b, func(context.Context, ctrl.Manager) error { return nil })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		b.Fatal("manager cache did not sync")
	}
	f.reader = mgr.GetClient()
	// The first List starts the Plugin informer; wait until it sees p.
	for {
		var list v1alpha1.PluginList
		if err := f.reader.List(ctx, &list, client.InNamespace(f.ns)); err != nil {
			b.Fatal(err)
		}
		if len(list.Items) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f
}

type batchResult struct {
	latencies                  []time.Duration
	elapsed                    time.Duration
	delivered, dropped, failed float64
}

// batch sends n events through a new Dispatcher and waits until the sink
// has them all, or the Dispatcher counted them all as delivered, dropped or
// failed.
func (f *notifyFixture) batch(b *testing.B, opts Options, n int, gap time.Duration) batchResult {
	b.Helper()
	d, err := New(f.reader, f.catalog, opts, nil, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	f.sink.expect(n)
	sent := make([]time.Time, n)
	start := time.Now()
	next := start
	for i := range n {
		if gap > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(gap)
		}
		ev := abi.Event{
			InvolvedObject: abi.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization",
				Namespace: f.ns, Name: "apps", UID: "3f1c"},
			Severity: "info", Timestamp: time.Now().UTC().Format(time.RFC3339), Reason: "ReconciliationSucceeded",
			Message:             "Applied revision: main@sha1:1111111111111111111111111111111111111111 (" + strconv.Itoa(i) + ")",
			Metadata:            map[string]string{"revision": "main@sha1:1111111111111111111111111111111111111111", "seq": strconv.Itoa(i)},
			ReportingController: "kustomize-controller",
		}
		sent[i] = time.Now()
		d.Enqueue(ev)
	}
	name := f.ns + "/webhook"
	counted := func() (delivered, dropped, failed float64) {
		return testutil.ToFloat64(d.events.WithLabelValues(name, OutcomeDelivered)),
			testutil.ToFloat64(d.events.WithLabelValues("", OutcomeDropped)) + testutil.ToFloat64(d.events.WithLabelValues(name, OutcomeDropped)),
			testutil.ToFloat64(d.events.WithLabelValues(name, OutcomeFailed))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		delivered, dropped, failed := counted()
		if f.sink.count() == n || int(delivered+dropped+failed) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The counter is incremented after the sink has answered.
	for range 100 {
		if delivered, _, _ := counted(); int(delivered) >= f.sink.count() {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got := f.sink.take()
	r := batchResult{}
	r.delivered, r.dropped, r.failed = counted()
	if len(got) != n || int(r.delivered) != n || r.dropped != 0 {
		b.Fatalf("sent %d, sink received %d, counted delivered %v, dropped %v, failed %v", n, len(got), r.delivered, r.dropped, r.failed)
	}
	var last time.Time
	for i, t := range got {
		r.latencies = append(r.latencies, t.Sub(sent[i]))
		if t.After(last) {
			last = t
		}
	}
	r.elapsed = last.Sub(start)
	return r
}

// benchSink records when each event (by its seq metadata) arrives.
type benchSink struct {
	mu  sync.Mutex
	got map[int]time.Time
}

// expect resets the sink for n events.
func (s *benchSink) expect(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = make(map[int]time.Time, n)
}

func (s *benchSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// take returns the arrival times by seq; missing events are left out.
func (s *benchSink) take() map[int]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *benchSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	seq, err := strconv.Atoi(p.Metadata["seq"])
	if err != nil {
		http.Error(w, "no seq", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.got[seq] = now
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
