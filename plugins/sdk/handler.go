package sdk

import (
	"context"
	"fmt"
	"strconv"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// TransformFunc edits rl in place: items, and results for findings. An error
// fails the call; prefer an error Result for problems with the input.
type TransformFunc func(ctx context.Context, rl *ResourceList) error

// HealthFunc decides the health of one object.
type HealthFunc func(ctx context.Context, obj *Object, config map[string]any) (abi.HealthResult, error)

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
// Items keep pointing into in: objects the handler does not edit are
// copied to the output as they came.
func ServeTransform(ctx context.Context, fn TransformFunc, in []byte) ([]byte, error) {
	return serveTransform(ctx, fn, in, nil)
}

// serveTransform is ServeTransform writing into dst's memory when it is
// large enough.
func serveTransform(ctx context.Context, fn TransformFunc, in, dst []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no transform handler"))
	}
	defer recoverTo(&err)
	rl, err := DecodeResourceList(in)
	if err != nil {
		return nil, fail(abi.CodeBadInput, err)
	}
	if err := fn(ctx, rl); err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	rl.APIVersion, rl.Kind = abi.ResourceListAPIVersion, abi.ResourceListKind
	// The output is about the size of the input: reserve it once.
	if need := len(in) + len(in)/8 + 512; cap(dst) < need {
		dst = make([]byte, 0, need)
	}
	out, err = rl.AppendJSON(dst[:0])
	if err != nil {
		return nil, fail(abi.CodeBadOutput, err)
	}
	return out, nil
}

// ServeHealth decodes a HealthRequest, runs fn and encodes the HealthResult.
func ServeHealth(ctx context.Context, fn HealthFunc, in []byte) ([]byte, error) {
	return serveHealth(ctx, fn, in, nil)
}

func serveHealth(ctx context.Context, fn HealthFunc, in, dst []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no health handler"))
	}
	defer recoverTo(&err)
	obj, config, err := decodeRequest(in, "object")
	if err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode health request: %w", err))
	}
	if obj == nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode health request: no object"))
	}
	res, err := fn(ctx, obj, config)
	if err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	out = append(dst[:0], `{"status":`...)
	out = rawjson.AppendString(out, string(res.Status))
	if res.Message != "" {
		out = rawjson.AppendString(append(out, `,"message":`...), res.Message)
	}
	return append(out, '}'), nil
}

// ServeNotify decodes a NotifyRequest, runs fn and encodes the NotifyResult.
func ServeNotify(ctx context.Context, fn NotifyFunc, in []byte) ([]byte, error) {
	return serveNotify(ctx, fn, in, nil)
}

func serveNotify(ctx context.Context, fn NotifyFunc, in, dst []byte) (out []byte, err error) {
	if fn == nil {
		return nil, fail(abi.CodeUnsupported, fmt.Errorf("no notify handler"))
	}
	defer recoverTo(&err)
	evObj, config, err := decodeRequest(in, "event")
	if err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode notify request: %w", err))
	}
	ev, err := decodeEvent(evObj)
	if err != nil {
		return nil, fail(abi.CodeBadInput, fmt.Errorf("decode notify request: %w", err))
	}
	res, err := fn(ctx, ev, config)
	if err != nil {
		return nil, fail(abi.CodeHandler, err)
	}
	out = append(dst[:0], `{"delivered":`...)
	out = strconv.AppendBool(out, res.Delivered)
	if res.Message != "" {
		out = rawjson.AppendString(append(out, `,"message":`...), res.Message)
	}
	return append(out, '}'), nil
}

func recoverTo(err *error) {
	if r := recover(); r != nil {
		*err = fail(abi.CodePanic, fmt.Errorf("panic: %v", r))
	}
}
