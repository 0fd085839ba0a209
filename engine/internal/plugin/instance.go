package plugin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// instance is one instantiated module. It is used by one call at a time.
type instance struct {
	mod            api.Module
	alloc, free    api.Function
	exports        map[string]api.Function
	stdout, stderr *boundedBuffer
	stack          [2]uint64 // params and results of CallWithStack
	mem            *linearMemory
	// flag is the interrupt flag of an instrumented module (see
	// interrupt.go); spent marks an instance whose flag may be set.
	flag  api.MutableGlobal
	spent bool
}

func newInstance(ctx context.Context, r wazero.Runtime, m *module, maxLog int) (*instance, error) {
	inst := &instance{stdout: newBoundedBuffer(maxLog), stderr: newBoundedBuffer(maxLog)}
	// No FS, env, args or sockets: only stdout/stderr (captured), clocks and
	// randomness, which the Go runtime needs.
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // initialize runs _initialize, under the interrupt
		WithStdout(inst.stdout).
		WithStderr(inst.stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	ctx, alloc := withMemoryAllocator(ctx)
	mod, err := r.InstantiateModule(ctx, m.compiled, cfg)
	if inst.mem = alloc.mem; inst.mem != nil {
		if err != nil {
			inst.mem.Free() // wazero frees it on some failures only
		}
		inst.mem.release() // in use from Allocate until now
	}
	if err != nil {
		if text, _ := inst.stderr.take(); text != "" {
			return nil, fmt.Errorf("instantiate %s: %w (stderr: %s)", m.digest, err, tail(text, 512))
		}
		return nil, fmt.Errorf("instantiate %s: %w", m.digest, err)
	}
	inst.mod = mod
	if m.interruptible {
		if inst.flag, err = interruptFlag(mod); err != nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("instantiate %s: %w", m.digest, err)
		}
	}
	if err := inst.initialize(ctx); err != nil {
		_ = mod.Close(ctx)
		if text, _ := inst.stderr.take(); text != "" {
			return nil, fmt.Errorf("instantiate %s: %w (stderr: %s)", m.digest, err, tail(text, 512))
		}
		return nil, fmt.Errorf("instantiate %s: %w", m.digest, err)
	}
	inst.alloc = mod.ExportedFunction(abi.ExportAlloc)
	inst.free = mod.ExportedFunction(abi.ExportFree)
	inst.exports = map[string]api.Function{}
	for _, c := range m.meta.Capabilities {
		inst.exports[c.Export()] = mod.ExportedFunction(c.Export())
	}
	return inst, nil
}

func (i *instance) close(ctx context.Context) { _ = i.mod.Close(ctx) }

// exec has the guest allocate size bytes, lets fill write the input there
// directly, calls export and copies the output out. Any error other than
// ErrGuest leaves the instance unusable.
func (i *instance) exec(ctx context.Context, export string, size int, fill func([]byte), maxOut int) ([]byte, *CallError) {
	fn := i.exports[export]
	if fn == nil {
		return nil, &CallError{Kind: ErrUnsupported}
	}
	if i.mem != nil {
		if !i.mem.acquire() {
			return nil, &CallError{Kind: ErrClosed}
		}
		defer i.mem.release()
	}
	stack := i.stack[:1]
	stack[0] = uint64(size)
	if err := i.alloc.CallWithStack(ctx, stack); err != nil {
		return nil, i.classify(ctx, fmt.Errorf("alloc: %w", err))
	}
	ptr := uint32(stack[0])
	view, ok := i.mod.Memory().Read(ptr, uint32(size))
	if ptr == 0 || !ok {
		return nil, &CallError{Kind: ErrTrap, Err: fmt.Errorf("alloc returned an unusable buffer (%d bytes at %#x)", size, ptr)}
	}
	fill(view)
	stack = i.stack[:2]
	stack[0], stack[1] = uint64(ptr), uint64(size)
	if err := fn.CallWithStack(ctx, stack); err != nil {
		return nil, i.classify(ctx, fmt.Errorf("%s: %w", export, err))
	}
	outPtr, n, code := abi.Unpack(stack[0])
	if code != abi.CodeOK {
		return nil, &CallError{Kind: ErrGuest, Code: code}
	}
	if int(n) > maxOut {
		return nil, &CallError{Kind: ErrOutputTooLarge, Err: fmt.Errorf("%d bytes, limit %d", n, maxOut)}
	}
	view, ok = i.mod.Memory().Read(outPtr, n)
	if !ok {
		return nil, &CallError{Kind: ErrBadOutput, Err: fmt.Errorf("output %d bytes at %#x is out of bounds", n, outPtr)}
	}
	out := append([]byte(nil), view...)
	stack = i.stack[:1]
	stack[0] = uint64(outPtr)
	if err := i.free.CallWithStack(ctx, stack); err != nil {
		return nil, i.classify(ctx, fmt.Errorf("free: %w", err))
	}
	return out, nil
}

// classify maps a wazero call error to a CallError kind.
func classify(ctx context.Context, err error) *CallError {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			return &CallError{Kind: ErrTimeout, Err: err}
		}
	}
	if ctx.Err() != nil {
		return &CallError{Kind: ErrTimeout, Err: err}
	}
	return &CallError{Kind: ErrTrap, Err: err}
}
