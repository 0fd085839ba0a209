// Package plugin hosts Weir Wasm plugins with wazero: it compiles modules
// once per digest (with an on-disk compilation cache), reads and validates
// their ABI v1 metadata, keeps a bounded pool of instances per Plugin, and
// runs the transform, health and notify extension points under per-call
// limits (timeout, memory, output size, captured stdout/stderr). Guests get
// no file system, environment or sockets; the only way out is the "weir"
// host module: log, set_error, and http_call restricted to allowedHosts.
//
// It must not import Kubernetes, controller-runtime or the controllers: it
// deals in bytes, ABI messages and digests. Fetching and verifying plugin
// artifacts is the job of package oci.
package plugin
