package engine

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// apiRequestsByVerb counts the engine's requests to the API server by verb and
// resource, so an operator can see what drives the engine's API load (the
// client-go metric only has the method and the status code).
var apiRequestsByVerb = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "weir_api_requests_total",
	Help: "Requests of the engine to the Kubernetes API server, by verb and resource. Dry-run requests have the verb suffix -dryrun.",
}, []string{"verb", "resource"})

func init() { metrics.Registry.MustRegister(apiRequestsByVerb) }

// apiActivity counts the same requests but the Lease renewals (a leader
// renews every few seconds, working or not), for the memory trim's idea
// of a burst of work.
var apiActivity atomic.Uint64

// countRequests makes every client built from cfg count its requests in
// weir_api_requests_total.
func countRequests(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			verb, resource := classify(req)
			apiRequestsByVerb.WithLabelValues(verb, resource).Inc()
			if !strings.HasPrefix(resource, "leases.") {
				apiActivity.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// classify names a request as Kubernetes' audit log does: the verb (get,
// list, watch, create, update, patch, delete) and the resource, qualified
// by its group and followed by a subresource ("kustomizations.kustomize.toolkit.fluxcd.io/status").
// Anything that is not a resource path (discovery, /version) is "other".
func classify(req *http.Request) (verb, resource string) {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var group string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		group, parts = parts[1], parts[3:]
	default:
		return strings.ToLower(req.Method), "other"
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:] // namespaced: drop namespaces/NAME
	}
	resource = parts[0]
	if group != "" {
		resource += "." + group
	}
	named := len(parts) >= 2
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	q := req.URL.Query()
	switch req.Method {
	case http.MethodGet:
		switch {
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(req.Method)
	}
	if q.Has("dryRun") {
		verb += "-dryrun"
	}
	return verb, resource
}
