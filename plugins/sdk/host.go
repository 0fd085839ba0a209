package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Host is what a handler may ask of the engine. In a Wasm module it is backed
// by the "weir" host imports; under go test, package sdktest provides one.
type Host interface {
	// Log writes one log line through the engine's logger.
	Log(level abi.LogLevel, msg string)
	// HTTPCall performs an HTTP request. The engine only lets it reach the
	// Plugin's allowedHosts and injects configured secrets.
	HTTPCall(req abi.HTTPRequest) (abi.HTTPResponse, error)
}

type hostKey struct{}

// WithHost returns a context whose handlers use h.
func WithHost(ctx context.Context, h Host) context.Context {
	return context.WithValue(ctx, hostKey{}, h)
}

// HostFrom returns the Host in ctx, or a Host that discards logs and refuses
// HTTP calls.
func HostFrom(ctx context.Context) Host {
	if h, ok := ctx.Value(hostKey{}).(Host); ok {
		return h
	}
	return noHost{}
}

// Log writes a log line through the host.
func Log(ctx context.Context, level abi.LogLevel, msg string) { HostFrom(ctx).Log(level, msg) }

// Logf formats and writes an info log line through the host.
func Logf(ctx context.Context, format string, args ...any) {
	HostFrom(ctx).Log(abi.LevelInfo, fmt.Sprintf(format, args...))
}

// HTTPCall performs an HTTP request through the host.
func HTTPCall(ctx context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	return HostFrom(ctx).HTTPCall(req)
}

// PostJSON posts v as JSON to url through the host.
func PostJSON(ctx context.Context, url string, headers map[string]string, v any) (abi.HTTPResponse, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return abi.HTTPResponse{}, fmt.Errorf("encode body: %w", err)
	}
	h := map[string]string{"Content-Type": "application/json"}
	for k, val := range headers {
		h[k] = val
	}
	return HTTPCall(ctx, abi.HTTPRequest{Method: "POST", URL: url, Headers: h, Body: string(body)})
}

// CodeError is returned by a Host when the engine refuses or fails a request.
type CodeError struct{ Code abi.Code }

func (e *CodeError) Error() string { return "host: " + e.Code.String() }

// ErrNoHost is returned by HTTPCall when no host is available.
var ErrNoHost = errors.New("no host available")

type noHost struct{}

func (noHost) Log(abi.LogLevel, string) {}

func (noHost) HTTPCall(abi.HTTPRequest) (abi.HTTPResponse, error) {
	return abi.HTTPResponse{}, ErrNoHost
}
