package plugin

import (
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Kinds of call failure; test with errors.Is on the error a call returns.
var (
	// ErrTimeout: the call ran past Limits.Timeout (or its context ended).
	ErrTimeout = errors.New("timed out")
	// ErrMemoryLimit: the guest needed more than Limits.MemoryPages.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrOutputTooLarge: the output exceeded Limits.MaxOutputBytes.
	ErrOutputTooLarge = errors.New("output too large")
	// ErrInputTooLarge: the input exceeded Limits.MaxInputBytes.
	ErrInputTooLarge = errors.New("input too large")
	// ErrTrap: the guest trapped or exited.
	ErrTrap = errors.New("guest trapped")
	// ErrGuest: the guest returned an ABI error code.
	ErrGuest = errors.New("guest returned an error")
	// ErrBadOutput: the output is not a valid message.
	ErrBadOutput = errors.New("invalid output")
	// ErrUnsupported: the plugin does not declare the capability.
	ErrUnsupported = errors.New("capability not declared")
	// ErrClosed: the plugin or host is closed.
	ErrClosed = errors.New("plugin closed")
	// ErrInvalidModule: the module or its metadata does not satisfy ABI v1.
	ErrInvalidModule = errors.New("invalid plugin module")
	// ErrModuleTooLarge: the module is larger than Limits.MaxModuleBytes;
	// Load refuses it before reading or compiling it.
	ErrModuleTooLarge = errors.New("module too large")
	// ErrHostFunction: a host function the guest called failed with a Go
	// panic. The panic is recovered and traps the guest.
	ErrHostFunction = errors.New("host function failed")
)

// CallError describes a failed call. Kind is one of the Err* values above.
type CallError struct {
	Plugin  string   // namespace/name
	Op      string   // transform, health, notify
	Kind    error    // ErrTimeout, ErrTrap, ...
	Code    abi.Code // the guest's code, for ErrGuest
	Message string   // the guest's set_error message, for ErrGuest
	Stderr  string   // the tail of the guest's stderr, when it trapped
	Err     error    // underlying error, if any
	// Discarded reports whether the instance was thrown away.
	Discarded bool
}

func (e *CallError) Error() string {
	s := fmt.Sprintf("plugin %s: %s: %v", e.Plugin, e.Op, e.Kind)
	if e.Kind == ErrGuest {
		s += fmt.Sprintf(" (%s)", e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes both the kind and the underlying error to errors.Is/As.
func (e *CallError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Retryable reports whether the same call may succeed later: timeouts and
// traps may be transient, a guest verdict or invalid output is not.
func (e *CallError) Retryable() bool {
	return e.Kind == ErrTimeout || e.Kind == ErrTrap || e.Kind == ErrClosed
}

func reason(err error) string {
	for _, k := range []error{ErrTimeout, ErrMemoryLimit, ErrOutputTooLarge, ErrInputTooLarge,
		ErrTrap, ErrHostFunction, ErrGuest, ErrBadOutput, ErrUnsupported, ErrClosed} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	return "other"
}
