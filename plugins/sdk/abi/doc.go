// Package abi is the Weir plugin ABI, version 1: the names of the module
// exports and host imports, the error codes, the packing of results and the
// JSON messages exchanged across the boundary.
//
// It is the contract shared by the guest SDK and the host. It holds constants
// and plain data types only; docs/plugin-abi.md describes the same contract
// for authors in other languages.
//
// It must import nothing but the standard library, and never wazero or
// Kubernetes packages.
package abi
