package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Options tune delivery. Zero fields take the defaults.
type Options struct {
	QueueSize   int           // events waiting for routing, and per sink; default 4096
	Rate        float64       // deliveries per second per Plugin; default 100
	Burst       int           // default 200
	Retries     int           // attempts after the first; default 3
	Backoff     time.Duration // first retry delay, doubled each time; default 200ms
	DedupWindow time.Duration // identical events within it are sent once; default 1m, negative: off
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.Burst <= 0 {
		o.Burst = 200
	}
	if o.Retries < 0 {
		o.Retries = 0
	} else if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 200 * time.Millisecond
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = time.Minute
	}
	return o
}

// Outcomes counted in weir_notify_events_total.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
	OutcomeDropped   = "dropped"
	OutcomeDuplicate = "duplicate"
)

// Dispatcher routes events to notify plugins. It is a manager Runnable.
type Dispatcher struct {
	reader  client.Reader
	catalog *wasm.Catalog
	opts    Options
	log     logr.Logger
	in      chan abi.Event
	events  *prometheus.CounterVec

	mu    sync.Mutex
	sinks map[wasm.Key]*sink
	ctx   context.Context
	wg    sync.WaitGroup
}

// New returns a Dispatcher; reg may be nil.
func New(reader client.Reader, catalog *wasm.Catalog, opts Options, reg prometheus.Registerer, log logr.Logger) (*Dispatcher, error) {
	opts = opts.withDefaults()
	d := &Dispatcher{reader: reader, catalog: catalog, opts: opts, log: log,
		in: make(chan abi.Event, opts.QueueSize), sinks: map[wasm.Key]*sink{},
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_notify_events_total",
			Help: "Events handed to notify plugins, by plugin and outcome.",
		}, []string{"plugin", "outcome"}),
	}
	if reg != nil {
		if err := reg.Register(d.events); err != nil {
			return nil, fmt.Errorf("registering notify metrics: %w", err)
		}
	}
	return d, nil
}

// Enqueue queues ev without blocking; it reports false when the queue is
// full and the event was dropped.
func (d *Dispatcher) Enqueue(ev abi.Event) bool {
	select {
	case d.in <- ev:
		return true
	default:
		d.events.WithLabelValues("", OutcomeDropped).Inc()
		return false
	}
}

// NeedLeaderElection is true: only the leader reconciles, so only it has
// events to deliver.
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// Start routes events until ctx ends, then waits for the sinks to stop.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	defer d.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-d.in:
			d.route(ctx, ev)
		}
	}
}

func (d *Dispatcher) route(ctx context.Context, ev abi.Event) {
	var list v1alpha1.PluginList
	if err := d.reader.List(ctx, &list, client.InNamespace(ev.InvolvedObject.Namespace)); err != nil {
		d.log.Error(err, "listing notify plugins")
		return
	}
	for i := range list.Items {
		p := &list.Items[i]
		if !Matches(p, ev) {
			continue
		}
		s := d.sink(wasm.Key{Namespace: p.Namespace, Name: p.Name})
		select {
		case s.ch <- ev:
		default:
			d.events.WithLabelValues(s.name, OutcomeDropped).Inc()
			d.log.Info("notify queue full, event dropped", "plugin", s.name, "reason", ev.Reason)
		}
	}
}

// Matches reports whether a notify Plugin wants ev: same namespace, a
// matching event source (none listed: every kind), and a severity at or
// above its eventSeverity.
func Matches(p *v1alpha1.Plugin, ev abi.Event) bool {
	n := p.Spec.Notify
	if n == nil || p.Spec.Suspend || p.Namespace != ev.InvolvedObject.Namespace {
		return false
	}
	if n.EventSeverity == "error" && ev.Severity != "error" {
		return false
	}
	if len(n.EventSources) == 0 {
		return true
	}
	for _, src := range n.EventSources {
		if src.Kind == ev.InvolvedObject.Kind && (src.Name == "" || src.Name == "*" || src.Name == ev.InvolvedObject.Name) {
			return true
		}
	}
	return false
}

func (d *Dispatcher) sink(key wasm.Key) *sink {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sinks[key]; ok {
		return s
	}
	s := &sink{d: d, key: key, name: key.String(), ch: make(chan abi.Event, d.opts.QueueSize),
		limiter: rate.NewLimiter(rate.Limit(d.opts.Rate), d.opts.Burst), seen: map[string]time.Time{}}
	d.sinks[key] = s
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		s.run(d.ctx)
	}()
	return s
}

// sink delivers the events of one Plugin, in order.
type sink struct {
	d       *Dispatcher
	key     wasm.Key
	name    string
	ch      chan abi.Event
	limiter *rate.Limiter
	seen    map[string]time.Time
	sweep   time.Time
}

func (s *sink) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.ch:
			if s.duplicate(ev) {
				s.d.events.WithLabelValues(s.name, OutcomeDuplicate).Inc()
				continue
			}
			if err := s.limiter.Wait(ctx); err != nil {
				return
			}
			s.d.events.WithLabelValues(s.name, s.deliver(ctx, ev)).Inc()
		}
	}
}

// duplicate remembers ev and reports whether an identical one went out
// within the window.
func (s *sink) duplicate(ev abi.Event) bool {
	w := s.d.opts.DedupWindow
	if w < 0 {
		return false
	}
	now := time.Now()
	if now.Sub(s.sweep) > w {
		for k, t := range s.seen {
			if now.Sub(t) > w {
				delete(s.seen, k)
			}
		}
		s.sweep = now
	}
	k := fingerprint(ev)
	if t, ok := s.seen[k]; ok && now.Sub(t) <= w {
		return true
	}
	s.seen[k] = now
	return false
}

func fingerprint(ev abi.Event) string {
	h := sha256.New()
	o := ev.InvolvedObject
	for _, p := range []string{o.Kind, o.Namespace, o.Name, string(o.UID), ev.Severity, ev.Reason, ev.Message} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k + "=" + ev.Metadata[k]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// deliver calls the plugin, retrying with backoff while it fails in a way
// that may pass: not delivered, a retryable call error, or not loaded yet.
func (s *sink) deliver(ctx context.Context, ev abi.Event) string {
	delay := s.d.opts.Backoff
	var last string
	for attempt := 0; attempt <= s.d.opts.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return OutcomeFailed
			case <-t.C:
			}
			delay *= 2
		}
		e, ok := s.d.catalog.Get(s.key)
		if !ok {
			last = "plugin is not ready"
			continue
		}
		res, err := e.Plugin.Notify(ctx, ev)
		if err == nil && res.Delivered {
			return OutcomeDelivered
		}
		if err != nil {
			last = err.Error()
			var ce *wasm.CallError
			if errors.As(err, &ce) && !ce.Retryable() {
				break
			}
			continue
		}
		last = res.Message
	}
	s.d.log.Info("notification not delivered", "plugin", s.name, "reason", ev.Reason, "error", last)
	return OutcomeFailed
}
