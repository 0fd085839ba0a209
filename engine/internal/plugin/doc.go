// Package plugin hosts Weir Wasm plugins with wazero: it compiles modules
// once per digest (with an on-disk compilation cache), reads and validates
// their ABI v1 metadata before compiling, keeps a bounded pool of instances
// per Plugin, and runs the transform, health and notify extension points
// under per-call limits (timeout, memory, input and output size, captured
// stdout/stderr). Guests get no file system, environment, arguments or
// sockets; the only way out is the "weir" host module: log, set_error, and
// http_call restricted to allowedHosts.
//
// Design notes:
//   - wazero's memory limit is a runtime setting, so the Host keeps one
//     runtime per distinct limit; all share one compilation cache.
//   - A timeout stops a running guest because the host instruments every
//     module before compiling it (instrument.go, over the decoder in
//     wasmbin.go): a countdown check at each loop header and at the entry
//     of each function that calls, which traps once the host sets the
//     exported flag InterruptExport at the call's deadline, and which
//     leaves native code for Go every few thousand checks so that the Go
//     runtime can stop the world. _initialize and a start section run under
//     the same interrupt. See docs/decisions/0011-interrupt-by-instrumentation.md
//     for the cost against wazero's WithCloseOnContextDone; Options.NoInterrupt
//     compiles modules as they are, for trusted plugins only.
//   - A guest error code keeps the instance; a trap, exit, timeout or limit
//     hit discards it.
//   - An instance's linear memory is one mapping reserved at its maximum
//     and grown in place (memory.go), not wazero's Go buffer that is copied
//     on growth: a guest growing to its limit costs about the limit in RSS.
//     Host functions recover every panic into a trap of the guest.
//
// It must not import Kubernetes, controller-runtime or the controllers: it
// deals in bytes, ABI messages and digests. Fetching and verifying plugin
// artifacts is the job of package oci.
package plugin
