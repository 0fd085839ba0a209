package pluginabi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var transformChecks = []check{
	{"transform/contract", transformContract},
	{"transform/identity", transformIdentity},
	{"transform/results", transformResults},
	{"transform/deterministic", transformDeterministic},
	{"transform/empty", transformEmpty},
	{"transform/large", transformLarge},
}

func sampleList() *abi.ResourceList { return &abi.ResourceList{Items: sampleItems()} }

// transformContract: a small build comes back as a valid ResourceList.
func transformContract(ctx context.Context, e *env) error {
	in := sampleList()
	out, err := e.loaded.Transform(ctx, in)
	if err != nil {
		return describe(fmt.Sprintf("transform of %d objects", len(in.Items)), err, e.base.Limits)
	}
	e.transformIn, e.transformOut = sampleList(), out
	return nil
}

func problems(ps []string) error {
	if len(ps) == 0 {
		return nil
	}
	return errors.New(strings.Join(ps, "; "))
}

// transformIdentity: the identity rules hold for the sample build and for a
// large one.
func transformIdentity(ctx context.Context, e *env) error {
	if ps := identityProblems(e.transformIn, e.transformOut); len(ps) > 0 {
		return problems(ps)
	}
	in := &abi.ResourceList{Items: largeItems(50)}
	out, err := e.loaded.Transform(ctx, in)
	if err != nil {
		return describe("transform of 50 ConfigMaps", err, e.base.Limits)
	}
	if ps := identityProblems(&abi.ResourceList{Items: largeItems(50)}, out); len(ps) > 0 {
		return fmt.Errorf("transform of 50 ConfigMaps: %w", problems(ps))
	}
	return nil
}

// transformResults: every result has a message, a valid severity and, if it
// names an object, names a real one.
func transformResults(_ context.Context, e *env) error {
	return problems(resultProblems(e.transformIn, e.transformOut))
}

// transformDeterministic: the same input gives the same output twice on the
// same instance and once more on a fresh one.
func transformDeterministic(ctx context.Context, e *env) error {
	second, err := e.loaded.Transform(ctx, sampleList())
	if err != nil {
		return describe("second transform", err, e.base.Limits)
	}
	if d := firstDiff(e.transformOut, second); d != "" {
		return fmt.Errorf("the second call on the same instance returned a different output at %s", d)
	}
	l, err := e.module.Load(ctx, e.base)
	if err != nil {
		return err
	}
	defer func() { _ = l.Close(context.WithoutCancel(ctx)) }()
	third, err := l.Transform(ctx, sampleList())
	if err != nil {
		return describe("transform on a fresh instance", err, e.base.Limits)
	}
	if d := firstDiff(e.transformOut, third); d != "" {
		return fmt.Errorf("a fresh instance returned a different output at %s", d)
	}
	return nil
}

// transformEmpty: an empty build is a valid input: the answer is a valid
// ResourceList with valid results, or an error code with a message.
func transformEmpty(ctx context.Context, e *env) error {
	in := &abi.ResourceList{Items: []map[string]any{}}
	out, err := e.loaded.Transform(ctx, in)
	if properError(err) {
		return nil
	}
	if err != nil {
		return describe("transform of 0 objects", err, e.base.Limits)
	}
	return problems(resultProblems(in, out))
}

// transformLarge: Options.LargeItems objects within the limits, keeping the
// identity rules.
func transformLarge(ctx context.Context, e *env) error {
	n := e.opts.LargeItems
	out, err := e.loaded.Transform(ctx, &abi.ResourceList{Items: largeItems(n)})
	if properError(err) {
		return nil
	}
	op := fmt.Sprintf("transform of %d ConfigMaps", n)
	if err != nil {
		return describe(op, err, e.base.Limits)
	}
	in := &abi.ResourceList{Items: largeItems(n)}
	if ps := append(identityProblems(in, out), resultProblems(in, out)...); len(ps) > 0 {
		return fmt.Errorf("%s: %w", op, problems(ps))
	}
	return nil
}
