package plugin

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are created per Host and registered on the registry it is given.
type metrics struct {
	calls     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	instances *prometheus.GaugeVec
	compiles  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_plugin_calls_total", Help: "Plugin calls by plugin and extension point.",
		}, []string{"plugin", "op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_plugin_errors_total", Help: "Failed plugin calls by reason.",
		}, []string{"plugin", "op", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "weir_plugin_call_duration_seconds",
			Help:    "Plugin call latency, including waiting for an instance.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"plugin", "op"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_plugin_instances", Help: "Live plugin instances.",
		}, []string{"plugin"}),
		compiles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_plugin_compilations_total", Help: "Modules compiled (or read from the compilation cache).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.errors, m.duration, m.instances, m.compiles} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register plugin metrics: %w", err)
		}
	}
	return m, nil
}
