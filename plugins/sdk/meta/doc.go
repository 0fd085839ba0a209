// Package meta reads and writes the Weir metadata custom section of a Wasm
// binary. Go cannot emit custom sections, so a Go plugin gets its metadata
// after the build, with cmd/weir-meta or Embed.
//
// It must import only the standard library and abi.
package meta
