package pluginabi

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var healthChecks = []check{
	{"health/contract", healthContract},
	{"health/deterministic", healthDeterministic},
	{"health/empty", healthEmpty},
	{"health/large", healthLarge},
}

// verdictProblem checks a verdict: one of Current, InProgress, Failed (the
// host refuses any other), with a message unless Current.
func verdictProblem(res abi.HealthResult) string {
	if res.Status != abi.StatusCurrent && strings.TrimSpace(res.Message) == "" {
		return fmt.Sprintf("status %s has no message", res.Status)
	}
	return ""
}

// healthContract: every state of every declared kind gets a valid verdict.
func healthContract(ctx context.Context, e *env) error {
	var ps []string
	for _, k := range e.opts.HealthKinds {
		objs := healthObjects(k)
		for _, name := range sortedKeys(objs) {
			op := fmt.Sprintf("health of %s %q", k, name)
			res, err := e.loaded.Health(ctx, objs[name])
			if err != nil {
				return describe(op, err, e.base.Limits)
			}
			if p := verdictProblem(res); p != "" {
				ps = append(ps, op+": "+p)
			}
		}
	}
	return problems(ps)
}

// healthDeterministic: the same object gets the same verdict twice on the
// same instance and once more on a fresh one.
func healthDeterministic(ctx context.Context, e *env) error {
	l, err := e.module.Load(ctx, e.base)
	if err != nil {
		return err
	}
	defer func() { _ = l.Close(context.WithoutCancel(ctx)) }()
	for _, k := range e.opts.HealthKinds {
		objs := healthObjects(k)
		for _, name := range sortedKeys(objs) {
			op := fmt.Sprintf("health of %s %q", k, name)
			var got [3]abi.HealthResult
			for i, inst := range []Loaded{e.loaded, e.loaded, l} {
				if got[i], err = inst.Health(ctx, objs[name]); err != nil {
					return describe(op, err, e.base.Limits)
				}
			}
			if d := firstDiff(got[0], got[1]); d != "" {
				return fmt.Errorf("%s: the second call on the same instance returned a different verdict at %s", op, d)
			}
			if d := firstDiff(got[0], got[2]); d != "" {
				return fmt.Errorf("%s: a fresh instance returned a different verdict at %s", op, d)
			}
		}
	}
	return nil
}

// healthEmpty: an object with nothing but its identity gets a valid
// verdict, or an error code with a message.
func healthEmpty(ctx context.Context, e *env) error {
	var ps []string
	for _, k := range e.opts.HealthKinds {
		op := fmt.Sprintf("health of a %s with no spec and no status", k)
		res, err := e.loaded.Health(ctx, minimalObject(k))
		if properError(err) {
			continue
		}
		if err != nil {
			return describe(op, err, e.base.Limits)
		}
		if p := verdictProblem(res); p != "" {
			ps = append(ps, op+": "+p)
		}
	}
	return problems(ps)
}

// healthLarge: an object with Options.LargeItems conditions and status
// fields gets a valid verdict within the limits.
func healthLarge(ctx context.Context, e *env) error {
	var ps []string
	for _, k := range e.opts.HealthKinds {
		op := fmt.Sprintf("health of a %s with %d conditions", k, e.opts.LargeItems)
		res, err := e.loaded.Health(ctx, largeObject(k, e.opts.LargeItems))
		if properError(err) {
			continue
		}
		if err != nil {
			return describe(op, err, e.base.Limits)
		}
		if p := verdictProblem(res); p != "" {
			ps = append(ps, op+": "+p)
		}
	}
	return problems(ps)
}
