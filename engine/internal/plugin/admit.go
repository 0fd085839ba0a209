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
	body := sectionBody(wasm, secMemory)
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

// sectionBody returns the body of the first section with id, or nil (also
// for a module readSections cannot split).
func sectionBody(wasm []byte, id byte) []byte {
	secs, err := readSections(wasm)
	if err != nil {
		return nil
	}
	for _, s := range secs {
		if s.id == id {
			return s.body
		}
	}
	return nil
}

func mib(pages uint32) string { return fmt.Sprintf("%g MiB", float64(pages)/16) }
