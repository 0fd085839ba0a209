package plugin

import (
	"errors"
	"fmt"
)

// This file is a minimal WebAssembly binary decoder: enough to walk the
// sections of a module and every instruction of a function body, including
// all immediates, so that interrupt.go can insert checks at exact
// instruction boundaries. It does not validate types; wazero validates the
// instrumented module when it compiles it.

// Section ids (WebAssembly core spec 5.5.2).
const (
	secCustom    = 0
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	secDataCount = 12
)

// sectionRank orders the non-custom sections as the spec requires them
// (the data count section sits between element and code).
func sectionRank(id byte) int {
	switch {
	case id == secDataCount:
		return 95 // after element (9), before code (10)
	case id >= 1 && id <= 11:
		return int(id) * 10
	}
	return -1
}

var errTruncated = errors.New("unexpected end")

// wasmReader reads LEB128 and bytes from a slice; the first error sticks.
type wasmReader struct {
	b   []byte
	off int
	err error
}

func (r *wasmReader) fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %w", r.off, err)
	}
}

func (r *wasmReader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *wasmReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wasmReader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail(errTruncated)
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

// u32 reads an unsigned LEB128 of at most 5 bytes.
func (r *wasmReader) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 0xffffffff {
				r.fail(errors.New("u32 overflow"))
				return 0
			}
			return uint32(v)
		}
	}
	r.fail(errors.New("u32 too long"))
	return 0
}

// skipLEB skips a signed or unsigned LEB128 of at most max bytes.
func (r *wasmReader) skipLEB(max int) {
	for i := 0; i < max; i++ {
		c := r.byte()
		if r.err != nil || c&0x80 == 0 {
			return
		}
	}
	r.fail(errors.New("leb128 too long"))
}

// name reads a length-prefixed string.
func (r *wasmReader) name() string { return string(r.bytes(r.u32())) }

// limits reads table or memory limits (flags 0-3: bit 0 = has max, bit 1 =
// shared).
func (r *wasmReader) limits() {
	flags := r.byte()
	if flags > 3 {
		r.fail(fmt.Errorf("limits flags %#x", flags))
		return
	}
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

// section is one section of a module, as found.
type section struct {
	id   byte
	name string // custom sections only
	body []byte
	raw  []byte // id, size and body, byte for byte
}

// readSections splits a module into its sections.
func readSections(wasm []byte) ([]section, error) {
	if len(wasm) < len(wasmHeader) || string(wasm[:len(wasmHeader)]) != string(wasmHeader) {
		return nil, errors.New("not a wasm 1.0 binary")
	}
	r := &wasmReader{b: wasm, off: len(wasmHeader)}
	var out []section
	for !r.done() {
		start := r.off
		id := r.byte()
		body := r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("section header: %w", r.err)
		}
		s := section{id: id, body: body, raw: wasm[start:r.off]}
		if id == secCustom {
			nr := &wasmReader{b: body}
			s.name = nr.name()
			if nr.err != nil {
				return nil, fmt.Errorf("custom section name: %w", nr.err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// importCounts counts the global and memory imports of an import section.
func importCounts(body []byte) (globals, memories uint32, err error) {
	r := &wasmReader{b: body}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
		case 0x01: // table: reftype, limits
			r.byte()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			memories++
		case 0x03: // global: valtype, mutability
			r.byte()
			r.byte()
			globals++
		default:
			r.fail(fmt.Errorf("import kind %#x", kind))
		}
	}
	if r.err == nil && !r.done() {
		r.fail(errors.New("trailing bytes"))
	}
	return globals, memories, r.err
}

// export is one entry of an export section.
type export struct {
	name  string
	kind  byte
	index uint32
}

func readExports(body []byte) ([]export, error) {
	r := &wasmReader{b: body}
	n := r.u32()
	var out []export
	for ; n > 0 && r.err == nil; n-- {
		e := export{name: r.name(), kind: r.byte(), index: r.u32()}
		out = append(out, e)
	}
	if r.err == nil && !r.done() {
		r.fail(errors.New("trailing bytes"))
	}
	return out, r.err
}

// instruction is what walkBody reports about one instruction: where it
// starts, its opcode and, for global.get/set, the global index.
type instruction struct {
	off    int  // offset of the opcode in the body
	end    int  // offset just past the instruction and its immediates
	op     byte // first opcode byte
	global uint32
}

// blockType skips a block type: empty (0x40), a value type, or an s33 type
// index.
func (r *wasmReader) blockType() {
	if r.err != nil || r.off >= len(r.b) {
		r.fail(errTruncated)
		return
	}
	switch r.b[r.off] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		r.off++
	case 0x63, 0x64: // (ref null? heaptype)
		r.valType()
	default:
		r.skipLEB(5)
	}
}

// valType skips a value type: one byte, or a reference type prefix
// (0x63, 0x64) and its s33 heap type.
func (r *wasmReader) valType() {
	if c := r.byte(); c == 0x63 || c == 0x64 {
		r.skipLEB(5)
	}
}

// memarg skips a memory argument: alignment and offset.
func (r *wasmReader) memarg() {
	r.u32()
	r.u32()
}

// walkBody decodes one function body (locals, then an expression) and calls
// fn for each instruction. It returns the offset where the expression
// starts.
func walkBody(body []byte, fn func(instruction)) (int, error) {
	r := &wasmReader{b: body}
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		r.u32() // count
		r.valType()
	}
	exprStart := r.off
	depth := 1 // the function's own block
	for depth > 0 && r.err == nil {
		in := instruction{off: r.off, op: r.byte()}
		switch op := in.op; {
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
			r.blockType()
			depth++
		case op == 0x0b: // end
			depth--
		case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b || op == 0xd1:
			// unreachable, nop, else, return, drop, select, ref.is_null
		case op == 0x0c || op == 0x0d || op == 0x10 || op == 0x12: // br, br_if, call, return_call
			r.u32()
		case op == 0x0e: // br_table
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				r.u32()
			}
			r.u32()
		case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
			r.u32()
			r.u32()
		case op == 0x1c: // select t*
			for n := r.u32(); n > 0 && r.err == nil; n-- {
				r.valType()
			}
		case op >= 0x20 && op <= 0x22: // local.get/set/tee
			r.u32()
		case op == 0x23 || op == 0x24: // global.get/set
			in.global = r.u32()
		case op == 0x25 || op == 0x26: // table.get/set
			r.u32()
		case op >= 0x28 && op <= 0x3e: // loads and stores
			r.memarg()
		case op == 0x3f || op == 0x40: // memory.size, memory.grow
			r.u32()
		case op == 0x41: // i32.const
			r.skipLEB(5)
		case op == 0x42: // i64.const
			r.skipLEB(10)
		case op == 0x43: // f32.const
			r.bytes(4)
		case op == 0x44: // f64.const
			r.bytes(8)
		case op >= 0x45 && op <= 0xc4: // numeric, sign extension
		case op == 0xd0: // ref.null reftype
			r.byte()
		case op == 0xd2: // ref.func
			r.u32()
		case op == 0xfc:
			r.miscOp()
		case op == 0xfd:
			r.simdOp()
		case op == 0xfe:
			r.atomicOp()
		default:
			r.fail(fmt.Errorf("unknown opcode %#x", op))
		}
		if r.err == nil {
			in.end = r.off
			fn(in)
		}
	}
	if r.err == nil && r.off != len(body) {
		r.fail(errors.New("bytes after the final end"))
	}
	return exprStart, r.err
}

// miscOp skips the immediates of a 0xFC-prefixed instruction: saturating
// truncation, bulk memory and table operations.
func (r *wasmReader) miscOp() {
	switch sub := r.u32(); {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init data, mem
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy mem, mem
		r.u32()
		r.u32()
	case sub == 11: // memory.fill mem
		r.u32()
	case sub == 12 || sub == 14: // table.init elem, table; table.copy table, table
		r.u32()
		r.u32()
	case sub == 13 || sub == 15 || sub == 16 || sub == 17: // elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail(fmt.Errorf("unknown 0xfc opcode %d", sub))
	}
}

// simdOp skips the immediates of a 0xFD-prefixed (SIMD) instruction.
func (r *wasmReader) simdOp() {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // v128 loads and store, load_zero
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.byte()
	case sub <= 0x113: // no immediates (incl. relaxed SIMD)
	default:
		r.fail(fmt.Errorf("unknown 0xfd opcode %d", sub))
	}
}

// atomicOp skips the immediates of a 0xFE-prefixed (threads) instruction.
func (r *wasmReader) atomicOp() {
	switch sub := r.u32(); {
	case sub == 3: // atomic.fence
		r.byte()
	case sub <= 2 || sub >= 0x10 && sub <= 0x4e:
		r.memarg()
	default:
		r.fail(fmt.Errorf("unknown 0xfe opcode %d", sub))
	}
}

func appendSection(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = appendULEB(out, uint32(len(body)))
	return append(out, body...)
}

func appendName(out []byte, s string) []byte {
	return append(appendULEB(out, uint32(len(s))), s...)
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		if v >>= 7; v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}
