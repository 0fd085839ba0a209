// Package pluginabi is the Weir plugin ABI conformance kit: black-box checks
// that a Wasm module keeps the contract of docs/plugin-abi.md (metadata,
// exports and imports, the message contract of each declared capability,
// determinism, empty and large inputs, the identity rules of transforms,
// behaviour under the limits), in the spirit of testing/fstest.TestFS.
//
// The checks run against a Module, a small interface a host implements with
// its real Wasm runtime; the engine's adapter lives in engine/cli and backs
// `engine plugin test`. The kit never runs Wasm itself.
//
// It must import nothing of the engine (engine/...), and no Wasm runtime or
// Kubernetes package: only the standard library and plugins/sdk/abi.
package pluginabi
