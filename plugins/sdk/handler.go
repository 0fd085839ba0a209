package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// TransformFunc edits rl in place: items, and results for findings. An error
// fails the call; prefer an error Result for problems with the input.
type TransformFunc func(ctx context.Context, rl *ResourceList) error

// HealthFunc decides the health of one object.
type HealthFunc func(ctx context.Context, obj Object, config map[string]any) (abi.HealthResult, error)

// NotifyFunc delivers one event.
type NotifyFunc func(ctx context.Context, ev abi.Event, config map[string]any) (abi.NotifyResult, error)

// The handlers a module serves. They are set during package initialization
// (HandleTransform and friends) and only read afterwards: a module is single
// threaded.
var (
	transformHandler TransformFunc
	healthHandler    HealthFunc
	notifyHandler    NotifyFunc
)

// HandleTransform registers the module's transform. Call it once, from a
// package-level variable declaration.
func HandleTransform(fn TransformFunc) bool { transformHandler = fn; return true }

// HandleHealth registers the module's health check.
func HandleHealth(fn HealthFunc) bool { healthHandler = fn; return true }

// HandleNotify registers the module's notifier.
func HandleNotify(fn NotifyFunc) bool { notifyHandler = fn; return true }

// Failure is an error with the ABI code a call returns for it.
type Failure struct {
	Code abi.Code
	Err  error
}

func (f *Failure) Error() string { return f.Code.String() + ": " + f.Err.Error() }

func (f *Failure) Unwrap() error { return f.Err }

func fail(c abi.Code, err error) *Failure { return &Failure{Code: c, Err: err} }

// ServeTransform decodes a ResourceList from in, runs fn and encodes the
// result. It is what the weir_transform export runs; sdktest uses it too.
func ServeTransform(ctx context.Context, fn TransformFunc, in []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no transform handler"))
	}
	defer recoverTo(&err)
	var rl ResourceList
	if err := json.Unmarshal(in, &rl); err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode resource list: %w", err))
	}
	if err := fn(ctx, &rl); err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	rl.APIVersion, rl.Kind = abi.ResourceListAPIVersion, abi.ResourceListKind
	if rl.Items == nil {
		rl.Items = []Object{}
	}
	return encode(&rl)
}

// ServeHealth decodes a HealthRequest, runs fn and encodes the HealthResult.
func ServeHealth(ctx context.Context, fn HealthFunc, in []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no health handler"))
	}
	defer recoverTo(&err)
	var req abi.HealthRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode health request: %w", err))
	}
	res, err := fn(ctx, Object(req.Object), req.Config)
	if err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	return encode(res)
}

// ServeNotify decodes a NotifyRequest, runs fn and encodes the NotifyResult.
func ServeNotify(ctx context.Context, fn NotifyFunc, in []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no notify handler"))
	}
	defer recoverTo(&err)
	var req abi.NotifyRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode notify request: %w", err))
	}
	res, err := fn(ctx, req.Event, req.Config)
	if err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	return encode(res)
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fail(abi.CodeBadOutput, fmt.Errorf("encode output: %w", err))
	}
	return b, nil
}

func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fail(abi.CodePanic, fmt.Errorf("panic: %v", r))
	}
}
