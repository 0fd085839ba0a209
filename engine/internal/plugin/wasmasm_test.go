package plugin

import (
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// A tiny assembler for the hand-written guests of the hostile tests: just
// enough of the Wasm 1.0 binary format to write a plugin whose every byte
// the test controls.

// Value types and opcodes used by the hostile guests.
const (
	tI32 = 0x7f
	tI64 = 0x7e

	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opReturn      = 0x0f
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalTee    = 0x22
	opI32Load     = 0x28
	opI32Store    = 0x36
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Eq       = 0x46
	opI32GtU      = 0x4b
	opI32DivU     = 0x6e
	opI32Shl      = 0x74
	opI64Or       = 0x84
	opI64Shl      = 0x86
	opI64ExtendU  = 0xad
	opPrefixFC    = 0xfc
	opMemoryFill  = 0x0b // after opPrefixFC
	blockVoid     = 0x40
)

// wasmFunc is a function of the module: its type index, its extra locals
// (all i32) and its body, without the final end.
type wasmFunc struct {
	typ    uint32
	locals uint32
	body   []byte
}

type wasmImport struct {
	module, name string
	typ          uint32
}

type wasmExport struct {
	name  string
	kind  byte // 0 function, 2 memory
	index uint32
}

type wasmData struct {
	offset uint32
	bytes  []byte
}

// wasmModule assembles into a module with one memory.
type wasmModule struct {
	types   [][2][]byte // params, results
	imports []wasmImport
	funcs   []wasmFunc
	memMin  uint32
	memMax  *uint32
	exports []wasmExport
	data    []wasmData
	meta    *abi.Metadata // the weir.plugin.v1 section, if set
	pad     int           // bytes of an extra custom section, to make it large
}

func (m *wasmModule) bytes() []byte {
	out := append([]byte(nil), wasmHeader...)
	var b []byte
	b = appendULEB(nil, uint32(len(m.types)))
	for _, t := range m.types {
		b = append(b, 0x60)
		b = appendVec(b, t[0])
		b = appendVec(b, t[1])
	}
	out = appendSection(out, 1, b)
	if len(m.imports) > 0 {
		b = appendULEB(nil, uint32(len(m.imports)))
		for _, im := range m.imports {
			b = appendName(b, im.module)
			b = appendName(b, im.name)
			b = appendULEB(append(b, 0x00), im.typ)
		}
		out = appendSection(out, 2, b)
	}
	b = appendULEB(nil, uint32(len(m.funcs)))
	for _, f := range m.funcs {
		b = appendULEB(b, f.typ)
	}
	out = appendSection(out, 3, b)
	if m.memMax != nil {
		b = appendULEB(appendULEB([]byte{1, 1}, m.memMin), *m.memMax)
	} else {
		b = appendULEB([]byte{1, 0}, m.memMin)
	}
	out = appendSection(out, 5, b)
	b = appendULEB(nil, uint32(len(m.exports)))
	for _, e := range m.exports {
		b = appendULEB(append(appendName(b, e.name), e.kind), e.index)
	}
	out = appendSection(out, 7, b)
	b = appendULEB(nil, uint32(len(m.funcs)))
	for _, f := range m.funcs {
		var code []byte
		if f.locals > 0 {
			code = appendULEB([]byte{1}, f.locals)
			code = append(code, tI32)
		} else {
			code = []byte{0}
		}
		code = append(append(code, f.body...), opEnd)
		b = append(appendULEB(b, uint32(len(code))), code...)
	}
	out = appendSection(out, 10, b)
	if len(m.data) > 0 {
		b = appendULEB(nil, uint32(len(m.data)))
		for _, d := range m.data {
			b = append(b, 0x00, opI32Const)
			b = append(appendSLEB(b, int64(int32(d.offset))), opEnd)
			b = append(appendULEB(b, uint32(len(d.bytes))), d.bytes...)
		}
		out = appendSection(out, 11, b)
	}
	if m.pad > 0 {
		out = appendCustomSection(out, "padding", make([]byte, m.pad))
	}
	if m.meta != nil {
		out = withMetadata(out, *m.meta)
	}
	return out
}

func appendVec(b, items []byte) []byte { return append(appendULEB(b, uint32(len(items))), items...) }

// i32c and i64c are the const instructions.
func i32c(v int32) []byte { return appendSLEB([]byte{opI32Const}, int64(v)) }
func i64c(v int64) []byte { return appendSLEB([]byte{opI64Const}, v) }

// cat joins instruction sequences.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Function indices of a hostile plugin: the import first, then the module's
// own functions.
const (
	fnHTTPCall  = 0
	fnAlloc     = 1
	fnFree      = 2
	fnTransform = 3
	fnRecurse   = 4
)

// inputPtr is where weir_alloc puts every input: a hostile plugin has no
// allocator, and one call at a time.
const inputPtr = 1024

// hostilePlugin returns a transform plugin that runs misbehave on an input
// longer than hostileTrigger bytes and otherwise returns its input as its
// output (a valid ResourceList), so one Plugin serves both the hostile call
// and the call that must still work after it. misbehave gets the input's
// pointer and length in locals 0 and 1, and an i32 scratch local 2; it
// either traps, returns an i64, or falls through to the echo.
func hostilePlugin(misbehave []byte, edit ...func(*wasmModule)) []byte {
	meta := abi.Metadata{ABIVersion: abi.Version, Name: "hostile", Version: "0.0.1",
		Capabilities: []abi.Capability{abi.CapabilityTransform}}
	echo := cat([]byte{opLocalGet, 0, opI64ExtendU}, i64c(32), []byte{opI64Shl,
		opLocalGet, 1, opI64ExtendU, opI64Or})
	transform := cat([]byte{opLocalGet, 1}, i32c(hostileTrigger), []byte{opI32GtU, opIf, blockVoid},
		misbehave, []byte{opEnd}, echo)
	m := &wasmModule{
		types: [][2][]byte{
			{{tI32}, {tI32}},       // 0: alloc
			{{tI32}, nil},          // 1: free
			{{tI32, tI32}, {tI64}}, // 2: transform, http_call
			{nil, nil},             // 3: recurse
		},
		imports: []wasmImport{{abi.ImportModule, abi.ImportHTTPCall, 2}},
		funcs: []wasmFunc{
			{typ: 0, body: i32c(inputPtr)},
			{typ: 1},
			{typ: 2, locals: 1, body: transform},
			{typ: 3, body: []byte{opCall, fnRecurse}},
		},
		memMin: 1,
		exports: []wasmExport{
			{"memory", 2, 0},
			{abi.ExportAlloc, 0, fnAlloc},
			{abi.ExportFree, 0, fnFree},
			{abi.ExportTransform, 0, fnTransform},
		},
		meta: &meta,
	}
	for _, e := range edit {
		e(m)
	}
	return m.bytes()
}

// hostileTrigger is the input length above which a hostile plugin
// misbehaves: a ResourceList with an item is longer, an empty one shorter.
const hostileTrigger = 160

// hostileInput makes a hostile plugin misbehave; calmInput does not.
func hostileInput() *abi.ResourceList {
	return &abi.ResourceList{Items: items(2), FunctionConfig: map[string]any{}}
}

func calmInput() *abi.ResourceList {
	return &abi.ResourceList{Items: []map[string]any{}, FunctionConfig: map[string]any{}}
}
