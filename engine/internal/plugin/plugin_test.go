package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

func TestTransformAddLabels(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "add-labels", Spec{Config: map[string]any{"team": "payments", "env": "prod"}})
	if m := p.Metadata(); m.Name != "add-labels" || m.ABIVersion != abi.Version || len(m.ConfigSchema) == 0 {
		t.Fatalf("metadata: %+v", m)
	}
	out, err := p.Transform(context.Background(), &abi.ResourceList{Items: items(3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 3 || len(ErrorResults(out.Results)) != 0 {
		t.Fatalf("output: %+v", out)
	}
	for _, it := range out.Items {
		labels := it["metadata"].(map[string]any)["labels"].(map[string]any)
		if labels["team"] != "payments" || labels["env"] != "prod" {
			t.Errorf("labels: %v", labels)
		}
	}
	// The caller's functionConfig wins over the Plugin config.
	out, err = p.Transform(context.Background(), &abi.ResourceList{Items: items(1),
		FunctionConfig: map[string]any{"data": map[string]any{"tier": "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	if l := out.Items[0]["metadata"].(map[string]any)["labels"].(map[string]any); l["tier"] != "web" || l["team"] != nil {
		t.Errorf("labels with functionConfig: %v", l)
	}
}

func TestHealthPhase(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "phase-health", Spec{})
	for phase, want := range map[string]abi.HealthStatus{
		"Ready": abi.StatusCurrent, "Provisioning": abi.StatusInProgress, "Failed": abi.StatusFailed,
	} {
		res, err := p.Health(context.Background(), map[string]any{"kind": "Database",
			"metadata": map[string]any{"name": "db", "generation": 3},
			"status":   map[string]any{"phase": phase, "observedGeneration": 3}})
		if err != nil || res.Status != want {
			t.Errorf("%s: got %+v %v, want %s", phase, res, err, want)
		}
	}
	if _, err := p.Transform(context.Background(), &abi.ResourceList{Items: items(1)}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("transform on a health plugin: %v", err)
	}
}

var event = abi.Event{
	InvolvedObject: abi.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "web"},
	Severity:       "info", Reason: "ReconciliationSucceeded", Message: "applied",
	Timestamp: "2026-01-01T00:00:00Z", ReportingController: "weir",
}

func TestNotifyAllowlist(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	h := newTestHost(t, Options{})

	allowed := load(t, h, "webhook-notifier", Spec{Key: Key{Namespace: "a", Name: "allowed"},
		Config: map[string]any{"url": srv.URL + "/hook"}, AllowedHosts: []string{u.Host},
		HTTPHeaders: map[string]string{"Authorization": "Bearer s3cret"}})
	res, err := allowed.Notify(context.Background(), event)
	if err != nil || !res.Delivered {
		t.Fatalf("allowed: %+v %v", res, err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "Bearer s3cret ") || !strings.Contains(got[0], "Kustomization/apps/web") {
		t.Fatalf("server saw %q", got)
	}
	mu.Unlock()

	for name, hosts := range map[string][]string{
		"other-host": {"hooks.example.com"}, "other-port": {u.Hostname() + ":1"}, "none": nil,
	} {
		p := load(t, h, "webhook-notifier", Spec{Key: Key{Namespace: "a", Name: name},
			Config: map[string]any{"url": srv.URL + "/hook"}, AllowedHosts: hosts})
		res, err := p.Notify(context.Background(), event)
		if err != nil || res.Delivered || !strings.Contains(res.Message, "denied") {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Errorf("refused calls reached the server: %d requests", len(got))
	}
}

func TestRedirectToDisallowedHostRefused(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("redirect followed to a host that is not allowed")
	}))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.RedirectHandler(strings.Replace(target.URL, "127.0.0.1", "localhost", 1), http.StatusFound))
	t.Cleanup(redirect.Close)
	u, _ := url.Parse(redirect.URL)
	h := newTestHost(t, Options{})
	p := load(t, h, "webhook-notifier", Spec{Config: map[string]any{"url": redirect.URL}, AllowedHosts: []string{u.Host}})
	res, err := p.Notify(context.Background(), event)
	if err != nil || res.Delivered || !strings.Contains(res.Message, "denied") {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestGuestErrorKeepsInstance(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newTestHost(t, Options{Registerer: reg})
	p := load(t, h, "fixture", Spec{})
	_, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "fail"}))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != ErrGuest || ce.Code != abi.CodeHandler || !strings.Contains(ce.Message, "fixture failure") || ce.Discarded {
		t.Fatalf("got %#v", err)
	}
	if _, err := p.Transform(context.Background(), fixtureList(nil)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues("test/fixture")); n != 1 {
		t.Errorf("live instances = %v, want 1", n)
	}
	if n := testutil.ToFloat64(h.metrics.errors.WithLabelValues("test/fixture", "transform", ErrGuest.Error())); n != 1 {
		t.Errorf("errors = %v", n)
	}
	if n := testutil.ToFloat64(h.metrics.calls.WithLabelValues("test/fixture", "transform")); n != 2 {
		t.Errorf("calls = %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "weir_plugin_call_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration series = %d %v", n, err)
	}
}

func TestExitIsTrap(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "fixture", Spec{})
	_, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "exit"}))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Kind != ErrTrap || !ce.Discarded || !ce.Retryable() {
		t.Fatalf("got %v", err)
	}
}

func TestGuestOutputCapturedAndBounded(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, args)
	}, funcr.Options{})
	h := newTestHost(t, Options{Logger: log})
	p := load(t, h, "fixture", Spec{Limits: Limits{MaxLogBytes: 1024}})
	if _, err := p.Transform(context.Background(), fixtureList(map[string]any{"mode": "stdout"})); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, `"stream"="stdout"`) || !strings.Contains(all, `"droppedBytes"=1047552`) {
		t.Fatalf("logs: %s", all)
	}
}

func TestInvalidModules(t *testing.T) {
	h := newTestHost(t, Options{})
	raw := rawModules["fixture"]
	cases := map[string][]byte{
		"not wasm":           []byte("hello"),
		"wrong abi":          withMetadata(raw, abi.Metadata{ABIVersion: "v9", Name: "x", Capabilities: []abi.Capability{"transform"}}),
		"unknown capability": withMetadata(raw, abi.Metadata{ABIVersion: abi.Version, Name: "x", Capabilities: []abi.Capability{"notify", "bogus"}}),
		"bad metadata":       appendCustomSection(raw, abi.CustomSection, []byte("{")),
		"no metadata":        rawModules["fixture"],
		"two sections":       withMetadata(modules["fixture"], abi.Metadata{ABIVersion: abi.Version, Name: "x", Capabilities: []abi.Capability{"transform"}}),
		"missing export":     withMetadata(memoryOnly, abi.Metadata{ABIVersion: abi.Version, Name: "x", Capabilities: []abi.Capability{"transform"}}),
	}
	for name, wasm := range cases {
		_, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "x", Name: name}, Wasm: wasm})
		if !errors.Is(err, ErrInvalidModule) {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// memoryOnly is a module whose only export is its memory.
var memoryOnly = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x05, 0x03, 0x01, 0x00, 0x01, // memory section: one memory, min 1 page
	0x07, 0x0a, 0x01, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, // export "memory"
}

func TestDecodeRejects(t *testing.T) {
	for _, in := range []string{`{}`, `{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList"}`,
		`{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[null]}`,
		`{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[],"results":[{"severity":"fatal"}]}`} {
		if _, err := DecodeResourceList([]byte(in)); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
	if _, err := DecodeHealth([]byte(`{"status":"Unknown"}`)); err == nil {
		t.Error("accepted unknown health status")
	}
	b, _ := json.Marshal(abi.ResourceList{APIVersion: abi.ResourceListAPIVersion, Kind: abi.ResourceListKind, Items: items(1)})
	if _, err := DecodeResourceList(b); err != nil {
		t.Error(err)
	}
}

func TestTransformWithoutConfigWarns(t *testing.T) {
	h := newTestHost(t, Options{})
	p := load(t, h, "add-labels", Spec{})
	out, err := p.Transform(context.Background(), &abi.ResourceList{Items: items(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 1 || out.Results[0].Severity != abi.SeverityWarning || len(ErrorResults(out.Results)) != 0 {
		t.Fatalf("results: %+v", out.Results)
	}
	if _, ok := out.Items[0]["metadata"].(map[string]any)["labels"]; ok {
		t.Fatalf("labels added without config: %v", out.Items[0])
	}
}
