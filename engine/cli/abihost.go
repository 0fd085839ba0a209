package cli

import (
	"context"
	"errors"

	"github.com/weir-gitops/weir/conformance/pluginabi"
	"github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// abiModule is a module under test in the engine's own plugin host: the
// pluginabi kit's Module.
type abiModule struct {
	host *plugin.Host
	wasm []byte
	name string
}

var _ pluginabi.Module = (*abiModule)(nil)

func (m *abiModule) Metadata() (abi.Metadata, error) { return plugin.ReadMetadata(m.wasm) }

func (m *abiModule) Load(ctx context.Context, cfg pluginabi.LoadConfig) (pluginabi.Loaded, error) {
	p, err := m.host.Load(ctx, plugin.Spec{
		Key:  plugin.Key{Namespace: "conformance", Name: m.name},
		Wasm: m.wasm,
		// One instance, reused: state kept between calls shows.
		Limits:       plugin.Limits{Timeout: cfg.Limits.Timeout, MemoryPages: cfg.Limits.MemoryPages, MaxInstances: 1},
		Config:       cfg.Config,
		AllowedHosts: cfg.AllowedHosts,
	})
	if err != nil {
		return nil, err
	}
	return abiLoaded{p}, nil
}

// abiLoaded adapts a loaded Plugin and translates its errors.
type abiLoaded struct{ p *plugin.Plugin }

func (l abiLoaded) Shape() pluginabi.Shape {
	s := l.p.Shape()
	conv := func(fs []plugin.Func) []pluginabi.Func {
		out := make([]pluginabi.Func, len(fs))
		for i, f := range fs {
			out[i] = pluginabi.Func(f)
		}
		return out
	}
	return pluginabi.Shape{Exports: conv(s.Exports), Imports: conv(s.Imports), Memories: s.Memories}
}

func (l abiLoaded) Transform(ctx context.Context, rl *abi.ResourceList) (*abi.ResourceList, error) {
	out, err := l.p.Transform(ctx, rl)
	return out, callError(err)
}

func (l abiLoaded) Health(ctx context.Context, obj map[string]any) (abi.HealthResult, error) {
	out, err := l.p.Health(ctx, obj)
	return out, callError(err)
}

func (l abiLoaded) Notify(ctx context.Context, ev abi.Event) (abi.NotifyResult, error) {
	out, err := l.p.Notify(ctx, ev)
	return out, callError(err)
}

func (l abiLoaded) Close(ctx context.Context) error { return l.p.Close(ctx) }

// callError maps the host's CallError kinds onto the kit's.
func callError(err error) error {
	var ce *plugin.CallError
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	out := &pluginabi.CallError{Kind: pluginabi.KindOther, Code: ce.Code, Message: ce.Message}
	for _, k := range []struct {
		host error
		kit  pluginabi.ErrorKind
	}{
		{plugin.ErrTimeout, pluginabi.KindTimeout},
		{plugin.ErrMemoryLimit, pluginabi.KindMemoryLimit},
		{plugin.ErrTrap, pluginabi.KindTrap},
		{plugin.ErrGuest, pluginabi.KindGuest},
		{plugin.ErrBadOutput, pluginabi.KindBadOutput},
	} {
		if ce.Kind == k.host {
			out.Kind = k.kit
		}
	}
	switch {
	case ce.Err != nil && ce.Stderr != "":
		out.Detail = ce.Err.Error() + " (stderr: " + ce.Stderr + ")"
	case ce.Err != nil:
		out.Detail = ce.Err.Error()
	case out.Kind == pluginabi.KindOther:
		out.Detail = ce.Error()
	}
	return out
}
