package engine

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
)

// The client-side limit follows Flux's rule: none against an API server
// with API Priority and Fairness (every kube-apiserver since 1.20, the
// test control plane included), the flags against one without.
func TestClientLimitsFollowPriorityAndFairness(t *testing.T) {
	cfg := DefaultConfig()
	cfg.KubeAPIQPS, cfg.KubeAPIBurst = 7, 9

	e, err := newWithREST(cfg, env.Config, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if e.restCfg.QPS != -1 || e.restCfg.Burst != -1 {
		t.Errorf("with priority and fairness: got QPS %v, burst %d; want no client-side limit (-1, -1)", e.restCfg.QPS, e.restCfg.Burst)
	}

	// An API server that answers without the flow control headers.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(plain.Close)
	e, err = newWithREST(cfg, &rest.Config{Host: plain.URL}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if e.restCfg.QPS != 7 || e.restCfg.Burst != 9 {
		t.Errorf("without priority and fairness: got QPS %v, burst %d; want the flags' 7 and 9", e.restCfg.QPS, e.restCfg.Burst)
	}
}
