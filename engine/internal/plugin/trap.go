package plugin

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/tetratelabs/wazero/api"
)

// classify maps a wazero call error to a CallError kind, and tells apart two
// kinds of trap: a panic in a host function, and a trap while the memory is
// at its maximum (a guest that cannot grow any further typically traps, as
// a hand-written memory.grow loop does with unreachable).
func (i *instance) classify(ctx context.Context, err error) *CallError {
	ce := classify(ctx, err)
	if ce.Kind != ErrTrap {
		return ce
	}
	var hp *hostPanicError
	switch {
	case errors.As(err, &hp):
		ce.Kind = ErrHostFunction
	case i.memoryFull():
		ce.Kind = ErrMemoryLimit
	}
	return ce
}

// memoryFull reports whether the instance's memory reached its maximum.
func (i *instance) memoryFull() bool {
	mem := i.mod.Memory()
	if mem == nil {
		return false
	}
	pages, _ := mem.Definition().Max()
	return uint64(mem.Size()) >= uint64(pages)<<16
}

// guestFault is a host function's verdict that the guest broke the ABI (for
// example, passed memory out of bounds). It traps the guest as ErrTrap.
type guestFault struct{ msg string }

func (e *guestFault) Error() string { return e.msg }

func faultf(format string, args ...any) *guestFault {
	return &guestFault{msg: fmt.Sprintf(format, args...)}
}

// hostPanicError is any other panic in a host function. It traps the guest
// as ErrHostFunction; the engine goes on.
type hostPanicError struct {
	fn    string
	value any
}

func (e *hostPanicError) Error() string {
	return fmt.Sprintf("host function %s panicked: %v", e.fn, e.value)
}

// guard runs a host function and turns any panic in it into a trap of the
// calling guest: guest faults as they are, anything else as a
// hostPanicError, logged with its stack. No panic of a host function
// reaches the engine, whichever engine wazero uses to run the guest.
func guard(name string, f api.GoModuleFunc) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if gf, ok := r.(*guestFault); ok {
				panic(gf)
			}
			stateFrom(ctx).log.Info("host function panicked", "function", name,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			panic(&hostPanicError{fn: name, value: r})
		}()
		f(ctx, m, stack)
	}
}
