package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

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
// error: the caller fails the reconcile on them (see ErrorResults).
func (p *Plugin) Transform(ctx context.Context, rl *abi.ResourceList) (*abi.ResourceList, error) {
	in := *rl
	in.APIVersion, in.Kind = abi.ResourceListAPIVersion, abi.ResourceListKind
	if in.FunctionConfig == nil {
		data := p.spec.Config
		if data == nil {
			data = map[string]any{}
		}
		in.FunctionConfig = map[string]any{"apiVersion": "weir.dev/v1alpha1", "kind": "PluginConfig",
			"metadata": map[string]any{"name": p.key.Name, "namespace": p.key.Namespace}, "data": data}
	}
	out, err := p.call(ctx, abi.CapabilityTransform, &in)
	if err != nil {
		return nil, err
	}
	res, err := DecodeResourceList(out)
	if err != nil {
		return nil, p.fail(abi.CapabilityTransform, &CallError{Kind: ErrBadOutput, Err: err})
	}
	return res, nil
}

// Health returns the plugin's verdict on obj.
func (p *Plugin) Health(ctx context.Context, obj map[string]any) (abi.HealthResult, error) {
	out, err := p.call(ctx, abi.CapabilityHealth, abi.HealthRequest{Object: obj, Config: p.spec.Config})
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
	out, err := p.call(ctx, abi.CapabilityNotify, abi.NotifyRequest{Event: ev, Config: p.spec.Config})
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

func (p *Plugin) call(ctx context.Context, c abi.Capability, msg any) ([]byte, error) {
	start := time.Now()
	name := p.key.String()
	p.host.metrics.calls.WithLabelValues(name, string(c)).Inc()
	defer func() {
		p.host.metrics.duration.WithLabelValues(name, string(c)).Observe(time.Since(start).Seconds())
	}()
	if !slices.Contains(p.mod.meta.Capabilities, c) {
		return nil, p.fail(c, &CallError{Kind: ErrUnsupported})
	}
	in, err := json.Marshal(msg)
	if err != nil {
		return nil, p.fail(c, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("encode input: %w", err)})
	}
	if len(in) > p.limits.MaxInputBytes {
		return nil, p.fail(c, &CallError{Kind: ErrInputTooLarge})
	}
	// The timeout covers waiting for an instance and instantiating it too,
	// so a guest whose initialization never returns is stopped as well.
	ctx, cancel := context.WithTimeout(ctx, p.limits.Timeout)
	defer cancel()
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
	out, cerr := inst.run(withCallState(ctx, st), c.Export(), in, p.limits.MaxOutputBytes)
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
