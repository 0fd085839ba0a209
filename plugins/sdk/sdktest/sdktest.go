package sdktest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// LogLine is one recorded log call.
type LogLine struct {
	Level   abi.LogLevel
	Message string
}

// Host is a recording sdk.Host. HTTP, when set, answers HTTP calls; without
// it every call fails with abi.CodeDenied, as the engine does for hosts that
// are not allowed.
type Host struct {
	HTTP func(abi.HTTPRequest) (abi.HTTPResponse, error)

	mu       sync.Mutex
	logs     []LogLine
	requests []abi.HTTPRequest
}

// Log records a log line.
func (h *Host) Log(level abi.LogLevel, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, LogLine{Level: level, Message: msg})
}

// HTTPCall records req and answers it with h.HTTP.
func (h *Host) HTTPCall(req abi.HTTPRequest) (abi.HTTPResponse, error) {
	h.mu.Lock()
	h.requests = append(h.requests, req)
	fn := h.HTTP
	h.mu.Unlock()
	if fn == nil {
		return abi.HTTPResponse{}, &sdk.CodeError{Code: abi.CodeDenied}
	}
	return fn(req)
}

// Logs returns the recorded log lines.
func (h *Host) Logs() []LogLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogLine(nil), h.logs...)
}

// Requests returns the recorded HTTP requests.
func (h *Host) Requests() []abi.HTTPRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]abi.HTTPRequest(nil), h.requests...)
}

func (h *Host) ctx() context.Context {
	if h == nil {
		return context.Background()
	}
	return sdk.WithHost(context.Background(), h)
}

// NewResourceList returns a ResourceList with items and functionConfig.data.
func NewResourceList(config map[string]string, items ...*sdk.Object) *sdk.ResourceList {
	data := map[string]any{}
	for k, v := range config {
		data[k] = v
	}
	return &sdk.ResourceList{
		APIVersion:     abi.ResourceListAPIVersion,
		Kind:           abi.ResourceListKind,
		Items:          items,
		FunctionConfig: sdk.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": data}),
	}
}

// O returns an Object built from m, for tests.
func O(m map[string]any) *sdk.Object { return sdk.NewObject(m) }

// Transform runs fn on rl through JSON, as the engine would. h may be nil.
func Transform(h *Host, fn sdk.TransformFunc, rl *sdk.ResourceList) (*sdk.ResourceList, error) {
	in, err := json.Marshal(rl)
	if err != nil {
		return nil, fmt.Errorf("encode resource list: %w", err)
	}
	out, err := sdk.ServeTransform(h.ctx(), fn, in)
	if err != nil {
		return nil, err
	}
	var res sdk.ResourceList
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("decode output: %w", err)
	}
	return &res, nil
}

// Health runs fn on obj through JSON. h may be nil.
func Health(h *Host, fn sdk.HealthFunc, obj *sdk.Object, config map[string]any) (abi.HealthResult, error) {
	var res abi.HealthResult
	in, err := obj.AppendJSON([]byte(`{"object":`))
	if err == nil && config != nil {
		in, err = rawjson.Append(append(in, `,"config":`...), config)
	}
	if err != nil {
		return res, fmt.Errorf("encode health request: %w", err)
	}
	in = append(in, '}')
	out, err := sdk.ServeHealth(h.ctx(), fn, in)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("decode output: %w", err)
	}
	return res, nil
}

// Notify runs fn on ev through JSON. h may be nil.
func Notify(h *Host, fn sdk.NotifyFunc, ev abi.Event, config map[string]any) (abi.NotifyResult, error) {
	var res abi.NotifyResult
	in, err := json.Marshal(abi.NotifyRequest{Event: ev, Config: config})
	if err != nil {
		return res, fmt.Errorf("encode notify request: %w", err)
	}
	out, err := sdk.ServeNotify(h.ctx(), fn, in)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("decode output: %w", err)
	}
	return res, nil
}

// ConfigMaps returns n ConfigMaps of about 2 KB of JSON each, the same for
// every call: the bulk input of benchmarks and of the conformance kit's
// large cases.
func ConfigMaps(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		data := map[string]any{"index": strconv.Itoa(i)}
		for k := range 14 {
			data["key-"+strconv.Itoa(k)] = strings.Repeat(string(rune('a'+k)), 120)
		}
		out[i] = map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%05d", i), "namespace": "apps",
				"labels":      map[string]any{"app": "bulk", "tier": "backend"},
				"annotations": map[string]any{"config.kubernetes.io/origin": "path: apps/configmaps.yaml"}},
			"data": data}
	}
	return out
}
