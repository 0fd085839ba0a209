//go:build wasip1

package sdk

import (
	"context"
	"errors"
	"runtime"
	"unsafe"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// pinned keeps buffers handed to the host alive until weir_free. Go's
// garbage collector does not move objects, so an address stays valid while
// its slice is referenced here.
var pinned = map[uint32][]byte{}

func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport weir_alloc
func weirAlloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	b := make([]byte, size)
	p := addr(b)
	pinned[p] = b
	return p
}

//go:wasmexport weir_free
func weirFree(ptr uint32) { delete(pinned, ptr) }

//go:wasmexport weir_transform
func weirTransform(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in []byte) ([]byte, error) {
		return ServeTransform(ctx, transformHandler, in)
	})
}

//go:wasmexport weir_health
func weirHealth(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in []byte) ([]byte, error) {
		return ServeHealth(ctx, healthHandler, in)
	})
}

//go:wasmexport weir_notify
func weirNotify(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in []byte) ([]byte, error) {
		return ServeNotify(ctx, notifyHandler, in)
	})
}

func serve(ptr, n uint32, f func(context.Context, []byte) ([]byte, error)) uint64 {
	in, ok := pinned[ptr]
	if !ok || uint32(len(in)) < n {
		return abi.PackError(abi.CodeBadInput)
	}
	delete(pinned, ptr) // the input belongs to the module once called
	out, err := f(WithHost(context.Background(), wasmHost{}), in[:n])
	if err != nil {
		code := abi.CodeHandler
		var fl *Failure
		if errors.As(err, &fl) {
			code = fl.Code
		}
		msg := []byte(err.Error())
		hostSetError(addr(msg), uint32(len(msg)))
		runtime.KeepAlive(msg)
		return abi.PackError(code)
	}
	if len(out) == 0 {
		out = []byte("{}")
	}
	p := addr(out)
	pinned[p] = out
	return abi.Pack(p, uint32(len(out)))
}

//go:wasmimport weir log
func hostLog(level, ptr, n uint32)

//go:wasmimport weir set_error
func hostSetError(ptr, n uint32)

//go:wasmimport weir http_call
func hostHTTPCall(ptr, n uint32) int64

//go:wasmimport weir result_read
func hostResultRead(ptr, n uint32) uint32

type wasmHost struct{}

func (wasmHost) Log(level abi.LogLevel, msg string) {
	b := []byte(msg)
	hostLog(uint32(level), addr(b), uint32(len(b)))
	runtime.KeepAlive(b)
}

func (wasmHost) HTTPCall(req abi.HTTPRequest) (abi.HTTPResponse, error) {
	var resp abi.HTTPResponse
	b := appendHTTPRequest(nil, req)
	n := hostHTTPCall(addr(b), uint32(len(b)))
	runtime.KeepAlive(b)
	if n < 0 {
		return resp, &CodeError{Code: abi.Code(-n)}
	}
	out := make([]byte, n)
	if n > 0 {
		out = out[:hostResultRead(addr(out), uint32(n))]
	}
	return decodeHTTPResponse(out)
}
