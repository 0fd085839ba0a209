package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Key identifies a Plugin object.
type Key struct{ Namespace, Name string }

func (k Key) String() string { return k.Namespace + "/" + k.Name }

// Limits bound every call of a Plugin. Zero fields take the defaults.
type Limits struct {
	Timeout        time.Duration // per call; default 10s
	MemoryPages    uint32        // 64 KiB pages per instance; default 2048 (128 MiB)
	MaxInputBytes  int           // default 64 MiB
	MaxOutputBytes int           // default 64 MiB
	MaxInstances   int           // live instances; default 2
	MaxLogBytes    int           // captured stdout and stderr per call; default 64 KiB
	MaxModuleBytes int           // module size, checked before compiling; default 32 MiB
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Second
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = 2048
	}
	def(&l.MaxInputBytes, 64<<20)
	def(&l.MaxOutputBytes, 64<<20)
	def(&l.MaxInstances, 2)
	def(&l.MaxLogBytes, 64<<10)
	def(&l.MaxModuleBytes, 32<<20)
	return l
}

// Spec is what Load needs to know about a Plugin.
type Spec struct {
	Key    Key
	Wasm   []byte // the verified module
	Limits Limits
	// Config is the Plugin's free-form config: functionConfig.data of a
	// transform (when the caller sets none), config of health and notify.
	Config map[string]any
	// AllowedHosts limits http_call: "host" allows any port, "host:port"
	// one port. Empty: no HTTP at all.
	AllowedHosts []string
	// HTTPHeaders are added to every allowed http_call (secrets injected by
	// the host; the guest never sees them).
	HTTPHeaders map[string]string
}

// Plugin is a loaded module with its own instance pool.
type Plugin struct {
	key    Key
	spec   Spec
	limits Limits
	mod    *module
	host   *Host
	pool   *pool
	log    logr.Logger
	// configJSON is Spec.Config as JSON, and functionConfig the
	// functionConfig that wraps it, encoded once.
	configJSON, functionConfig []byte
	opMetrics                  map[abi.Capability]*opMetrics
}

// opMetrics are one extension point's metrics, looked up once.
type opMetrics struct {
	calls    prometheus.Counter
	duration prometheus.Observer
}

// Load compiles (or reuses) the module and returns a Plugin whose instances
// are created on demand. Calls may run concurrently, up to MaxInstances at a
// time.
func (h *Host) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	lim := spec.Limits.withDefaults()
	if err := checkModuleSize(spec.Wasm, lim.MaxModuleBytes); err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Key, err)
	}
	mod, err := h.compile(ctx, spec.Wasm, lim.MemoryPages)
	if err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Key, err)
	}
	rt, err := h.runtime(ctx, lim.MemoryPages)
	if err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Key, err)
	}
	p := &Plugin{key: spec.Key, spec: spec, limits: lim, mod: mod, host: h,
		log: h.opts.Logger.WithValues("plugin", spec.Key.String(), "digest", mod.digest)}
	if p.configJSON, p.functionConfig, err = encodeConfig(spec); err != nil {
		return nil, fmt.Errorf("load plugin %s: %w", spec.Key, err)
	}
	p.opMetrics = map[abi.Capability]*opMetrics{}
	for _, c := range mod.meta.Capabilities {
		p.opMetrics[c] = &opMetrics{calls: h.metrics.calls.WithLabelValues(spec.Key.String(), string(c)),
			duration: h.metrics.duration.WithLabelValues(spec.Key.String(), string(c))}
	}
	gauge := h.metrics.instances.WithLabelValues(spec.Key.String())
	p.pool = newPool(lim.MaxInstances, gauge, func(ctx context.Context) (*instance, error) {
		return newInstance(ctx, rt.r, mod, lim.MaxLogBytes)
	})
	return p, nil
}

// Metadata returns the module's metadata.
func (p *Plugin) Metadata() abi.Metadata { return p.mod.meta }

// Digest returns the module digest.
func (p *Plugin) Digest() string { return p.mod.digest }

// Close discards every instance. Calls in flight finish first.
func (p *Plugin) Close(ctx context.Context) error {
	p.pool.close(ctx)
	p.host.metrics.instances.DeleteLabelValues(p.key.String())
	return nil
}

// Transform runs the transform over rl. A nil FunctionConfig is replaced by
// the Plugin's config. Error results are returned in the list, not as an
// error: the caller fails the reconcile on them (see ErrorResults). It is
// TransformJSON for callers that hold maps.
func (p *Plugin) Transform(ctx context.Context, rl *abi.ResourceList) (*abi.ResourceList, error) {
	items := make([][]byte, len(rl.Items))
	for i, it := range rl.Items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, p.fail(abi.CapabilityTransform, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("encode item %d: %w", i, err)})
		}
		items[i] = b
	}
	var fc []byte
	if rl.FunctionConfig != nil {
		b, err := json.Marshal(rl.FunctionConfig)
		if err != nil {
			return nil, p.fail(abi.CapabilityTransform, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("encode functionConfig: %w", err)})
		}
		fc = b
	}
	out, err := p.TransformJSON(ctx, items, fc)
	if err != nil {
		return nil, err
	}
	res, err := out.ResourceList()
	if err != nil {
		return nil, p.fail(abi.CapabilityTransform, &CallError{Kind: ErrBadOutput, Err: err})
	}
	return res, nil
}

// TransformOutput is a transform's output: each item is one object's JSON
// (slices of one buffer), in output order.
type TransformOutput struct {
	Items   [][]byte
	Results []abi.Result
}

// TransformJSON runs the transform over items, each one object's JSON.
// functionConfig is the ResourceList's functionConfig; nil gives the
// Plugin's config. The input is written straight into the guest's memory
// and the output is split without decoding the items.
func (p *Plugin) TransformJSON(ctx context.Context, items [][]byte, functionConfig []byte) (*TransformOutput, error) {
	if functionConfig == nil {
		functionConfig = p.functionConfig
	}
	size, fill := resourceListMessage(items, functionConfig)
	out, err := p.call(ctx, abi.CapabilityTransform, size, fill)
	if err != nil {
		return nil, err
	}
	res, err := DecodeTransformOutput(out)
	if err != nil {
		return nil, p.fail(abi.CapabilityTransform, &CallError{Kind: ErrBadOutput, Err: err})
	}
	return res, nil
}

// Health returns the plugin's verdict on obj.
func (p *Plugin) Health(ctx context.Context, obj map[string]any) (abi.HealthResult, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return abi.HealthResult{}, p.fail(abi.CapabilityHealth, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("encode object: %w", err)})
	}
	return p.HealthJSON(ctx, b)
}

// HealthJSON returns the plugin's verdict on the object whose JSON is obj.
func (p *Plugin) HealthJSON(ctx context.Context, obj []byte) (abi.HealthResult, error) {
	size, fill := requestMessage("object", obj, p.configJSON)
	out, err := p.call(ctx, abi.CapabilityHealth, size, fill)
	if err != nil {
		return abi.HealthResult{}, err
	}
	res, err := DecodeHealth(out)
	if err != nil {
		return res, p.fail(abi.CapabilityHealth, &CallError{Kind: ErrBadOutput, Err: err})
	}
	return res, nil
}

// Notify hands ev to the plugin for delivery.
func (p *Plugin) Notify(ctx context.Context, ev abi.Event) (abi.NotifyResult, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return abi.NotifyResult{}, p.fail(abi.CapabilityNotify, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("encode event: %w", err)})
	}
	size, fill := requestMessage("event", b, p.configJSON)
	out, err := p.call(ctx, abi.CapabilityNotify, size, fill)
	if err != nil {
		return abi.NotifyResult{}, err
	}
	res, err := DecodeNotify(out)
	if err != nil {
		return res, p.fail(abi.CapabilityNotify, &CallError{Kind: ErrBadOutput, Err: err})
	}
	return res, nil
}

// fail completes a CallError and counts it.
func (p *Plugin) fail(c abi.Capability, e *CallError) error {
	e.Plugin, e.Op = p.key.String(), string(c)
	p.host.metrics.errors.WithLabelValues(e.Plugin, e.Op, reason(e)).Inc()
	return e
}

// call runs extension point c on the input message of size bytes that fill
// writes.
func (p *Plugin) call(ctx context.Context, c abi.Capability, size int, fill func([]byte)) ([]byte, error) {
	start := time.Now()
	om := p.opMetrics[c]
	if om == nil {
		return nil, p.fail(c, &CallError{Kind: ErrUnsupported})
	}
	om.calls.Inc()
	defer func() { om.duration.Observe(time.Since(start).Seconds()) }()
	if size > p.limits.MaxInputBytes {
		return nil, p.fail(c, &CallError{Kind: ErrInputTooLarge})
	}
	// The timeout covers waiting for an instance and instantiating it too,
	// so a guest whose initialization never returns is stopped as well.
	ctx, cancel := context.WithTimeout(ctx, p.limits.Timeout)
	defer cancel()
	// Closing the Host ends the call too: its interrupt fires on ctx.
	defer context.AfterFunc(p.host.closing, cancel)()
	inst, err := p.pool.get(ctx)
	if err != nil {
		kind := ErrTrap
		if errors.Is(err, ErrClosed) {
			kind = ErrClosed
		} else if ctx.Err() != nil {
			kind = ErrTimeout
		}
		return nil, p.fail(c, &CallError{Kind: kind, Err: fmt.Errorf("get instance: %w", err)})
	}
	st := &callState{log: p.log, client: p.host.client, allowed: p.spec.AllowedHosts,
		headers: p.spec.HTTPHeaders, maxBody: p.limits.MaxOutputBytes}
	out, cerr := inst.run(withCallState(ctx, st), c.Export(), size, fill, p.limits.MaxOutputBytes)
	stderr := p.flushLogs(inst)
	if cerr != nil {
		if cerr.Kind == ErrTrap {
			cerr.Stderr = tail(stderr, 2048)
			if strings.Contains(stderr, "out of memory") {
				cerr.Kind = ErrMemoryLimit
			}
		}
		if cerr.Discarded = cerr.Kind != ErrGuest; cerr.Discarded {
			p.pool.discard(context.WithoutCancel(ctx), inst)
		} else {
			p.pool.put(inst)
		}
		cerr.Message = st.errMsg
		return nil, p.fail(c, cerr)
	}
	p.pool.put(inst)
	return out, nil
}

// flushLogs logs what the guest wrote to stdout and stderr during the call
// and returns the stderr text.
func (p *Plugin) flushLogs(inst *instance) (stderr string) {
	for _, s := range []struct {
		name string
		buf  *boundedBuffer
	}{{"stdout", inst.stdout}, {"stderr", inst.stderr}} {
		if text, dropped := s.buf.take(); text != "" || dropped > 0 {
			p.log.Info("guest output", "stream", s.name, "text", text, "droppedBytes", dropped)
			if s.name == "stderr" {
				stderr = text
			}
		}
	}
	return stderr
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
