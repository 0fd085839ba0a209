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
//   - A timeout stops a running guest because guests are compiled with
//     WithCloseOnContextDone. Measured on the example plugins this costs
//     3-4x per call (see BenchmarkTransform and docs/plugin-abi.md);
//     Options.NoInterrupt removes it for trusted plugins only.
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
