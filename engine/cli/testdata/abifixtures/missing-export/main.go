// Command missing-export has the memory exports of the ABI but no extension
// point, written without the SDK.
package main

import "unsafe"

var buffers = map[uint32][]byte{}

//go:wasmexport weir_alloc
func alloc(size uint32) uint32 {
	b := make([]byte, size+1)
	p := uint32(uintptr(unsafe.Pointer(&b[0])))
	buffers[p] = b
	return p
}

//go:wasmexport weir_free
func free(ptr uint32) { delete(buffers, ptr) }

func main() {}
