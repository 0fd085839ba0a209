package pluginabi

import (
	"context"
	"fmt"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Module is the plugin under test, as a host sees it.
type Module interface {
	// Metadata reads and validates the module's weir.plugin.v1 custom
	// section without running it. The error says why the host refuses it.
	Metadata() (abi.Metadata, error)
	// Load compiles the module, checks its exports and returns it ready to
	// be called under cfg. Every Load starts from fresh instances.
	Load(ctx context.Context, cfg LoadConfig) (Loaded, error)
}

// LoadConfig is how a Plugin object would configure the module.
type LoadConfig struct {
	Limits Limits
	// Config is the Plugin's spec.config.
	Config map[string]any
	// AllowedHosts limits http_call as the Plugin's notify.allowedHosts.
	AllowedHosts []string
}

// Limits bound every call. The kit always sets both.
type Limits struct {
	Timeout     time.Duration
	MemoryPages uint32 // 64 KiB pages per instance
}

// Loaded is a loaded module. The host must use a single instance at a time
// and reuse it across calls (as a pool of one), so state kept between calls
// shows.
type Loaded interface {
	// Shape lists the module's exported and imported functions.
	Shape() Shape
	// Transform, Health and Notify call the extension points through the
	// host's own encoding and output checks. Failures are *CallError.
	Transform(ctx context.Context, rl *abi.ResourceList) (*abi.ResourceList, error)
	Health(ctx context.Context, obj map[string]any) (abi.HealthResult, error)
	Notify(ctx context.Context, ev abi.Event) (abi.NotifyResult, error)
	Close(ctx context.Context) error
}

// Shape is what a compiled module exports and imports.
type Shape struct {
	Exports  []Func
	Imports  []Func
	Memories []string // exported memories
}

// Func is a function's name and signature; Module is empty for exports.
// Types are Wasm value type names: i32, i64, f32, f64, v128, externref.
type Func struct {
	Module, Name    string
	Params, Results []string
}

// Signature renders f as "(i32,i32)->(i64)".
func (f Func) Signature() string { return signature(f.Params, f.Results) }

func signature(params, results []string) string {
	return "(" + join(params) + ")->(" + join(results) + ")"
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// ErrorKind classifies a failed call.
type ErrorKind string

// Kinds of call failure a host reports.
const (
	KindTimeout     ErrorKind = "timeout"      // the call ran past Limits.Timeout and was stopped
	KindMemoryLimit ErrorKind = "memory limit" // the guest needed more than Limits.MemoryPages
	KindTrap        ErrorKind = "trap"         // the guest trapped or exited
	KindGuest       ErrorKind = "guest error"  // the guest returned an ABI error code
	KindBadOutput   ErrorKind = "bad output"   // the output is not a valid message
	KindOther       ErrorKind = "other"        // anything else (output too large, closed, ...)
)

// CallError is a failed call as the host saw it.
type CallError struct {
	Kind    ErrorKind
	Code    abi.Code // for KindGuest
	Message string   // the guest's set_error message, for KindGuest
	Detail  string   // the host's explanation: trap, decode error, stderr tail
}

func (e *CallError) Error() string {
	s := string(e.Kind)
	if e.Kind == KindGuest {
		s += fmt.Sprintf(" code %d (%s)", e.Code, e.Code)
		if e.Message != "" {
			s += ": " + e.Message
		}
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
