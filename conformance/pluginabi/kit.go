package pluginabi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Options tune a run. Zero fields take the defaults.
type Options struct {
	// Timeout bounds every call, as a Plugin's spec.limits.timeout
	// (default 10s, the engine's default).
	Timeout time.Duration
	// MemoryPages bounds every instance, as spec.limits.memory (default
	// 2048 pages = 128 MiB, the engine's default).
	MemoryPages uint32
	// LargeItems is the size of the large inputs: items of a transform,
	// conditions of a health object, metadata entries of an event (default
	// 5000).
	LargeItems int
	// Config is the spec.config the module is loaded with. Every string
	// containing SinkPlaceholder has it replaced by the URL of the kit's
	// local HTTP sink. Nil: {"url": SinkPlaceholder} for a module that
	// declares notify, {} otherwise.
	Config map[string]any
	// HealthKinds are the kinds the health checks send objects of, as a
	// Plugin's spec.health.kinds (default example.com/v1 Widget).
	HealthKinds []Kind
	// Progress, when set, is called as each check ends.
	Progress func(Result)
}

// SinkPlaceholder stands for the URL of the kit's local HTTP sink in
// Options.Config.
const SinkPlaceholder = "{{sink}}"

// Kind is an apiVersion and kind.
type Kind struct{ APIVersion, Kind string }

func (k Kind) String() string { return k.APIVersion + " " + k.Kind }

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MemoryPages == 0 {
		o.MemoryPages = 2048
	}
	if o.LargeItems <= 0 {
		o.LargeItems = 5000
	}
	if len(o.HealthKinds) == 0 {
		o.HealthKinds = []Kind{{APIVersion: "example.com/v1", Kind: "Widget"}}
	}
	return o
}

// Status of a check.
type Status string

// Check outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is the outcome of one check.
type Result struct {
	Check    string
	Status   Status
	Message  string
	Duration time.Duration
}

// errSkip marks a check that does not apply.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

// check is one named check. A nil error passes it.
type check struct {
	name string
	run  func(ctx context.Context, e *env) error
}

// env is what the checks share during a run.
type env struct {
	opts   Options
	module Module
	meta   abi.Metadata
	base   LoadConfig
	// loaded is loaded with base and reused by most checks.
	loaded Loaded
	sink   *sink
	// transformIn and transformOut are the sample build and the answer
	// transform/contract got, for the checks that judge or compare it.
	transformIn, transformOut *abi.ResourceList
}

// Run runs every check that applies to m and returns the report. It never
// stops at the first failure; a check whose precondition failed is skipped
// and says which.
func Run(ctx context.Context, m Module, opts Options) *Report {
	opts = opts.withDefaults()
	start := time.Now()
	rep := &Report{}
	record := func(c string, st Status, msg string, d time.Duration) {
		r := Result{Check: c, Status: st, Message: msg, Duration: d}
		rep.Results = append(rep.Results, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	runGroup := func(e *env, group []check) {
		gate := ""
		for _, c := range group {
			if gate != "" {
				record(c.name, Skip, gate+" failed", 0)
				continue
			}
			t := time.Now()
			err := c.run(ctx, e)
			var skip errSkip
			switch {
			case err == nil:
				record(c.name, Pass, "", time.Since(t))
			case errors.As(err, &skip):
				record(c.name, Skip, skip.reason, time.Since(t))
			default:
				record(c.name, Fail, err.Error(), time.Since(t))
				var ce *CallError
				if group[0].name == c.name || errors.As(err, &ce) && (ce.Kind == KindTimeout || ce.Kind == KindMemoryLimit) {
					gate = c.name // later checks of the group depend on this one
				}
			}
		}
	}

	e := &env{opts: opts, module: m}
	s, err := startSink()
	if err != nil {
		record("setup", Fail, err.Error(), 0)
		return rep
	}
	defer s.close()
	e.sink = s
	defer func() {
		if e.loaded != nil {
			_ = e.loaded.Close(context.WithoutCancel(ctx))
		}
		rep.Duration = time.Since(start)
	}()
	runGroup(e, moduleChecks)
	if e.loaded == nil {
		return rep
	}
	for _, c := range e.meta.Capabilities {
		switch c {
		case abi.CapabilityTransform:
			runGroup(e, transformChecks)
		case abi.CapabilityHealth:
			runGroup(e, healthChecks)
		case abi.CapabilityNotify:
			runGroup(e, notifyChecks)
		}
	}
	runGroup(e, limitChecks)
	return rep
}

// substitute returns a deep copy of v with SinkPlaceholder replaced by url.
func substitute(v any, url string) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, SinkPlaceholder, url)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, url)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substitute(x, url)
		}
		return out
	}
	return v
}

// callFailure is a failed call described for a report; it keeps the
// CallError for errors.As.
type callFailure struct {
	msg string
	ce  *CallError
}

func (f *callFailure) Error() string { return f.msg }
func (f *callFailure) Unwrap() error { return f.ce }

// describe turns a call error into a sentence that names the limit or the
// rule it broke.
func describe(op string, err error, lim Limits) error {
	var ce *CallError
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var msg string
	switch ce.Kind {
	case KindTimeout:
		msg = fmt.Sprintf("stopped after the %s timeout: the guest did not return", lim.Timeout)
	case KindMemoryLimit:
		msg = fmt.Sprintf("exceeded the memory limit of %d pages (%d MiB)", lim.MemoryPages, lim.MemoryPages/16)
	case KindTrap:
		msg = "the guest trapped or could not start: " + ce.Detail
	case KindGuest:
		msg = fmt.Sprintf("returned error code %d (%s)", ce.Code, ce.Code)
		if ce.Message == "" {
			msg += " without a set_error message"
		} else {
			msg += ": " + ce.Message
		}
	case KindBadOutput:
		msg = "invalid output: " + ce.Detail
	default:
		msg = ce.Error()
	}
	return &callFailure{msg: op + ": " + msg, ce: ce}
}

// properError reports whether err is a guest error code that comes with a
// message: an acceptable way to refuse an input.
func properError(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && ce.Kind == KindGuest && ce.Message != ""
}
