package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// InterruptExport is the export name reserved for the interrupt flag that
// instrument adds to every module. A module that already exports it is
// refused.
const InterruptExport = "weir.interrupt"

// StartExport is the export name reserved for the start function of a
// module that has a start section: instrument turns the section into this
// export and the host calls it before _initialize, under the interrupt.
const StartExport = "weir.start"

// interruptFlag returns the instrumented module's interrupt flag.
func interruptFlag(mod api.Module) (api.MutableGlobal, error) {
	g, ok := mod.ExportedGlobal(InterruptExport).(api.MutableGlobal)
	if !ok || g.Type() != api.ValueTypeI32 {
		return nil, fmt.Errorf("no mutable i32 export %q", InterruptExport)
	}
	return g, nil
}

// arm sets the instance's interrupt flag when ctx ends. The returned
// disarm reports false when it came too late: the flag is set, or about to
// be, and the instance must not run again.
func (i *instance) arm(ctx context.Context) (disarm func() bool) {
	if i.flag == nil {
		return func() bool { return true }
	}
	flag := i.flag
	return context.AfterFunc(ctx, func() { flag.Set(1) })
}

// run calls export under the interrupt (see arm). A call that fails after
// its deadline passed is a timeout whatever the guest did last, since the
// interrupt makes the guest trap; its instance is spent and the pool
// discards it even when the call itself succeeded.
func (i *instance) run(ctx context.Context, export string, size int, fill func([]byte), maxOut int) ([]byte, *CallError) {
	disarm := i.arm(ctx)
	out, cerr := i.exec(ctx, export, size, fill, maxOut)
	if disarm() {
		return out, cerr
	}
	i.spent = true
	if cerr != nil && (cerr.Kind == ErrTrap || cerr.Kind == ErrGuest) {
		cerr.Kind = ErrTimeout
		cerr.Err = fmt.Errorf("interrupted at the deadline: %w", errors.Join(cerr.Err, ctx.Err()))
	}
	return out, cerr
}

// initialize runs the module's start function (see StartExport) and
// _initialize, if it has them, under the interrupt: a guest whose
// initialization never returns is stopped by the deadline of the call that
// needed the instance.
func (i *instance) initialize(ctx context.Context) error {
	for _, name := range []string{StartExport, abi.ExportInitialize} {
		fn := i.mod.ExportedFunction(name)
		if fn == nil || name == StartExport && i.flag == nil {
			continue
		}
		disarm := i.arm(ctx)
		_, err := fn.Call(ctx)
		if !disarm() {
			return fmt.Errorf("%s interrupted at the deadline: %w", name, errors.Join(err, ctx.Err()))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
