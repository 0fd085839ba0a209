package plugin

import (
	"errors"
	"fmt"
	"strings"
)

// maxGlobals is wazero's limit on the global index space.
const maxGlobals = 1 << 27

// checkPeriod is how many checks a guest passes between two exits to Go
// (see interruptCheck).
const checkPeriod = 4096

// interruptCheck returns the check inserted at function entry and at the
// top of every loop, given the indices of the flag and countdown globals:
//
//	global.get $count; i32.const 1; i32.sub; global.set $count
//	global.get $count; i32.eqz
//	if
//	  i32.const 0; memory.grow 0; drop       ;; exit to Go
//	  global.get $flag; if; unreachable; end ;; trap once interrupted
//	  i32.const checkPeriod; global.set $count
//	end
//
// The common path is a decrement and a branch. Every checkPeriod checks the
// guest leaves native code for Go (memory.grow by 0 pages is a no-op that
// wazero serves in Go). That matters as much as the flag: Go cannot preempt
// a goroutine running wazero's native code, so a guest that never leaves it
// stalls every stop-the-world of the process (garbage collection), and with
// it the timer that would set the flag.
func interruptCheck(flag, count uint32) []byte {
	b := appendULEB([]byte{0x23}, count)
	b = append(b, 0x41, 0x01, 0x6b, 0x24)
	b = appendULEB(b, count)
	b = appendULEB(append(b, 0x23), count)
	b = append(b, 0x45, 0x04, 0x40, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23)
	b = appendULEB(b, flag)
	b = append(b, 0x04, 0x40, 0x00, 0x0b)
	b = appendSLEB(append(b, 0x41), checkPeriod)
	b = appendULEB(append(b, 0x24), count)
	return append(b, 0x0b)
}

// instrument returns wasm with two mutable i32 globals appended to the
// global index space, the interrupt flag (exported as InterruptExport) and
// a countdown, and interruptCheck at the top of every loop and at the
// entry of every function that calls. Setting the flag to non-zero from the
// host makes the running guest trap within checkPeriod checks.
//
// Why those places suffice: in structured Wasm control flow the only
// backward jump is a branch to a loop, so an unbounded computation either
// takes loop back-edges forever (each passes a loop's check) or makes
// calls forever (each enters a function that calls, at whose entry there
// is a check). A function that neither loops nor calls runs a bounded
// number of instructions. Bulk memory and table instructions are bounded by
// the memory or table size.
//
// A start section is replaced by an export of the start function as
// StartExport, so that the host can run it under the interrupt too.
//
// No existing index shifts: the new globals come last; function, type,
// table and memory indices are untouched (a module without a memory gets
// an empty one, index 0, for memory.grow). Sections other than the memory,
// global, export and code sections are kept byte for byte, except .debug_*
// custom sections, dropped because code offsets move. A body that names a
// global the module does not have is refused: once the new globals exist
// such a body could clear the flag.
func instrument(wasm []byte) ([]byte, error) {
	secs, err := readSections(wasm)
	if err != nil {
		return nil, err
	}
	var globals uint64
	var defined, exports, memories uint32
	var exportBody, globalBody []byte
	var start []byte // the start function index, as encoded
	seen := map[byte]bool{}
	for _, s := range secs {
		if s.id == secCustom {
			continue
		}
		if sectionRank(s.id) < 0 {
			return nil, fmt.Errorf("unknown section id %d", s.id)
		}
		if seen[s.id] {
			return nil, fmt.Errorf("duplicate section id %d", s.id)
		}
		seen[s.id] = true
		r := &wasmReader{b: s.body}
		switch s.id {
		case secImport:
			g, m, err := importCounts(s.body)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			globals += uint64(g)
			memories += m
		case secMemory:
			memories += r.u32()
		case secGlobal:
			defined = r.u32()
			globals += uint64(defined)
			globalBody = s.body[r.off:]
		case secExport:
			list, err := readExports(s.body)
			if err != nil {
				return nil, fmt.Errorf("export section: %w", err)
			}
			for _, e := range list {
				if e.name == InterruptExport || e.name == StartExport {
					return nil, fmt.Errorf("export name %q is reserved", e.name)
				}
			}
			exports = uint32(len(list))
			r.u32()
			exportBody = s.body[r.off:]
		case secStart:
			if r.u32(); r.err == nil && !r.done() {
				r.fail(errors.New("trailing bytes"))
			}
			start = s.body
		}
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, r.err)
		}
	}
	if globals+2 > maxGlobals {
		return nil, fmt.Errorf("%d globals, limit %d", globals, maxGlobals)
	}
	flag, count := uint32(globals), uint32(globals)+1

	// Two i32 mutable globals: the flag (0) and the countdown.
	gsec := appendULEB(nil, defined+2)
	gsec = append(gsec, globalBody...)
	gsec = append(gsec, 0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41)
	gsec = append(appendSLEB(gsec, checkPeriod), 0x0b)
	esec := appendULEB(nil, exports+1)
	if start != nil {
		esec = appendULEB(nil, exports+2)
	}
	esec = append(esec, exportBody...)
	esec = append(appendName(esec, InterruptExport), 0x03)
	esec = appendULEB(esec, flag)
	if start != nil {
		// The start function runs inside InstantiateModule, before the
		// host can reach the flag; the host calls it instead.
		esec = append(appendName(esec, StartExport), 0x00)
		esec = append(esec, start...)
	}
	added := []struct {
		id   byte
		body []byte
	}{{secGlobal, gsec}, {secExport, esec}}
	if memories == 0 {
		// One memory, 0 pages, at most 0 pages: only memory.grow uses it.
		added = append([]struct {
			id   byte
			body []byte
		}{{secMemory, []byte{0x01, 0x01, 0x00, 0x00}}}, added...)
	}

	out := append([]byte(nil), wasmHeader...)
	// flush writes the added sections that come before a section of rank.
	flush := func(rank int) {
		for len(added) > 0 && sectionRank(added[0].id) < rank {
			out = appendSection(out, added[0].id, added[0].body)
			added = added[1:]
		}
	}
	for _, s := range secs {
		switch {
		case s.id == secCustom:
			if !strings.HasPrefix(s.name, ".debug_") {
				out = append(out, s.raw...)
			}
		case s.id == secStart:
			flush(sectionRank(s.id)) // dropped: exported as StartExport
		case s.id == secGlobal || s.id == secExport || s.id == secMemory && memories == 0:
			flush(sectionRank(s.id) + 1) // replaced by the added one
		case s.id == secCode:
			flush(sectionRank(s.id))
			code, err := instrumentCode(s.body, interruptCheck(flag, count), flag)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			out = appendSection(out, secCode, code)
		default:
			flush(sectionRank(s.id))
			out = append(out, s.raw...)
		}
	}
	flush(1 << 30)
	return out, nil
}

// instrumentCode rewrites a code section: each body gets check after its
// locals when it contains a call, and after the block type of each loop.
// Bodies may only name globals below limit.
func instrumentCode(body, check []byte, limit uint32) ([]byte, error) {
	r := &wasmReader{b: body}
	n := r.u32()
	out := appendULEB(make([]byte, 0, len(body)+len(body)/4), n)
	var fb []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		fn := r.bytes(r.u32())
		if r.err != nil {
			break
		}
		var loops []int
		calls := false
		var bad error
		start, err := walkBody(fn, func(in instruction) {
			switch in.op {
			case 0x03: // loop
				loops = append(loops, in.end)
			case 0x10, 0x11, 0x12, 0x13: // call, call_indirect, return_call*
				calls = true
			case 0x23, 0x24: // global.get, global.set
				if in.global >= limit && bad == nil {
					bad = fmt.Errorf("global index %d out of range", in.global)
				}
			}
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		fb = append(fb[:0], fn[:start]...)
		if calls {
			fb = append(fb, check...)
		}
		prev := start
		for _, at := range loops {
			fb = append(append(fb, fn[prev:at]...), check...)
			prev = at
		}
		fb = append(fb, fn[prev:]...)
		out = append(appendULEB(out, uint32(len(fb))), fb...)
	}
	if r.err != nil {
		return nil, r.err
	}
	if !r.done() {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
