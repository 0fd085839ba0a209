package pluginabi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var limitChecks = []check{
	{"limits/timeout", limitsTimeout},
}

// call runs the module's first capability on a small or a large input.
func (e *env) call(ctx context.Context, l Loaded, large bool) error {
	n := 0
	if large {
		n = e.opts.LargeItems
	}
	switch e.meta.Capabilities[0] {
	case abi.CapabilityTransform:
		items := sampleItems()
		if large {
			items = largeItems(n)
		}
		_, err := l.Transform(ctx, &abi.ResourceList{Items: items})
		return err
	case abi.CapabilityHealth:
		obj := minimalObject(e.opts.HealthKinds[0])
		if large {
			obj = largeObject(e.opts.HealthKinds[0], n)
		}
		_, err := l.Health(ctx, obj)
		return err
	default:
		ev := sampleEvent()
		if large {
			ev = largeEvent(n)
		}
		_, err := l.Notify(ctx, ev)
		return err
	}
}

// limitsTimeout: a call whose deadline passes while the guest runs is
// stopped with a timeout error, and the next call succeeds on a fresh
// instance.
func limitsTimeout(ctx context.Context, e *env) error {
	l, err := e.module.Load(ctx, e.base)
	if err != nil {
		return err
	}
	defer func() { _ = l.Close(context.WithoutCancel(ctx)) }()
	op := string(e.meta.Capabilities[0])
	if err := e.call(ctx, l, false); !completed(err) {
		return describe(op, err, e.base.Limits)
	}
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	err = e.call(short, l, true)
	cancel()
	var ce *CallError
	if !completed(err) && (!errors.As(err, &ce) || ce.Kind != KindTimeout) {
		return fmt.Errorf("%s cut short after 1ms: want a timeout error, got %w", op, err)
	}
	if err := e.call(ctx, l, false); !completed(err) {
		return describe(op+" after a call was stopped", err, e.base.Limits)
	}
	return nil
}

// completed reports whether a call ran to its end: an answer, an error code
// or an output the host refused all count; a limit hit or a trap does not.
// The other checks judge the answers.
func completed(err error) bool {
	var ce *CallError
	return err == nil || errors.As(err, &ce) && (ce.Kind == KindGuest || ce.Kind == KindBadOutput)
}
