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
// its slice is referenced here. At most an input and an output are pinned
// at a time, so a short list beats a map.
var pinned []pinnedBuf

type pinnedBuf struct {
	ptr    uint32
	b      []byte
	output bool
}

// spare is the last output buffer the host released: the next output is
// written into it, so a plugin called again and again does not allocate
// (and clear) a new output buffer per call.
var spare []byte

// hostCtx is the context every handler gets.
var hostCtx = WithHost(context.Background(), wasmHost{})

func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

func pin(b []byte, output bool) uint32 {
	p := addr(b)
	pinned = append(pinned, pinnedBuf{ptr: p, b: b, output: output})
	return p
}

func unpin(ptr uint32) (pinnedBuf, bool) {
	for i, pb := range pinned {
		if pb.ptr == ptr {
			pinned = append(pinned[:i], pinned[i+1:]...)
			return pb, true
		}
	}
	return pinnedBuf{}, false
}

//go:wasmexport weir_alloc
func weirAlloc(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	return pin(make([]byte, size), false)
}

//go:wasmexport weir_free
func weirFree(ptr uint32) {
	if pb, ok := unpin(ptr); ok && pb.output {
		spare = pb.b[:0]
	}
}

//go:wasmexport weir_transform
func weirTransform(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in, dst []byte) ([]byte, error) {
		return serveTransform(ctx, transformHandler, in, dst)
	})
}

//go:wasmexport weir_health
func weirHealth(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in, dst []byte) ([]byte, error) {
		return serveHealth(ctx, healthHandler, in, dst)
	})
}

//go:wasmexport weir_notify
func weirNotify(ptr, n uint32) uint64 {
	return serve(ptr, n, func(ctx context.Context, in, dst []byte) ([]byte, error) {
		return serveNotify(ctx, notifyHandler, in, dst)
	})
}

func serve(ptr, n uint32, f func(ctx context.Context, in, dst []byte) ([]byte, error)) uint64 {
	pb, ok := unpin(ptr) // the input belongs to the module once called
	if !ok || pb.output || uint32(len(pb.b)) < n {
		return abi.PackError(abi.CodeBadInput)
	}
	dst := spare
	spare = nil
	out, err := f(hostCtx, pb.b[:n], dst)
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
	return abi.Pack(pin(out, true), uint32(len(out)))
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
