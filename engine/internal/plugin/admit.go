package plugin

import "fmt"

// checkModuleSize refuses a module larger than limit before anything reads,
// hashes or compiles it.
func checkModuleSize(wasm []byte, limit int) error {
	if len(wasm) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrModuleTooLarge, len(wasm), limit)
	}
	return nil
}

// checkMemoryMinimum refuses a module whose memory section declares a
// minimum above the memory limit: it could never be instantiated. It reads
// the section without compiling; a malformed section is left to the
// compiler to report.
func checkMemoryMinimum(wasm []byte, limitPages uint32) error {
	body := section(wasm, 5)
	count, n, err := readULEB(body)
	if err != nil || count == 0 || n >= len(body) {
		return nil
	}
	body = body[n+1:] // skip the limits flags
	minPages, _, err := readULEB(body)
	if err != nil || minPages <= limitPages {
		return nil
	}
	return fmt.Errorf("%w: %w: memory declares a minimum of %d pages (%s), over the limit of %d pages (%s)",
		ErrInvalidModule, ErrMemoryLimit, minPages, mib(minPages), limitPages, mib(limitPages))
}

// section returns the body of the first section with id, or nil.
func section(wasm []byte, id byte) []byte {
	if len(wasm) < len(wasmHeader) {
		return nil
	}
	for rest := wasm[len(wasmHeader):]; len(rest) > 0; {
		size, n, err := readULEB(rest[1:])
		if err != nil || uint64(size) > uint64(len(rest)-1-n) {
			return nil
		}
		if rest[0] == id {
			return rest[1+n : 1+n+int(size)]
		}
		rest = rest[1+n+int(size):]
	}
	return nil
}

func mib(pages uint32) string { return fmt.Sprintf("%g MiB", float64(pages)/16) }
