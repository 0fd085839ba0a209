package plugin

import (
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// testModule builds small modules by hand, WAT-like, for the interrupt
// tests: the bodies are raw instruction bytes.
type testModule struct {
	types   [][2][]byte // params, results (value type bytes)
	imports []testImport
	funcs   []testFunc
	memory  bool // one page, exported as "memory"
	globals [][]byte
	exports []export
	start   *uint32
	customs [][2]string // name, payload
}

type testImport struct {
	module, name string
	typ          uint32
}

type testFunc struct {
	typ    uint32
	locals []byte // the locals vector, e.g. {0x01, 0x01, 0x7f}; nil: none
	body   []byte // the expression, with its final end
}

const (
	i32 = 0x7f
	i64 = 0x7e
)

func (m testModule) encode() []byte {
	vec := func(n int) []byte { return appendULEB(nil, uint32(n)) }
	out := append([]byte(nil), wasmHeader...)
	if len(m.types) > 0 {
		b := vec(len(m.types))
		for _, t := range m.types {
			b = append(b, 0x60)
			b = append(append(b, vec(len(t[0]))...), t[0]...)
			b = append(append(b, vec(len(t[1]))...), t[1]...)
		}
		out = appendSection(out, 1, b)
	}
	if len(m.imports) > 0 {
		b := vec(len(m.imports))
		for _, im := range m.imports {
			b = appendName(appendName(b, im.module), im.name)
			b = appendULEB(append(b, 0x00), im.typ)
		}
		out = appendSection(out, 2, b)
	}
	if len(m.funcs) > 0 {
		b := vec(len(m.funcs))
		for _, f := range m.funcs {
			b = appendULEB(b, f.typ)
		}
		out = appendSection(out, 3, b)
	}
	if m.memory {
		out = appendSection(out, 5, []byte{0x01, 0x00, 0x01})
	}
	if len(m.globals) > 0 {
		b := vec(len(m.globals))
		for _, g := range m.globals {
			b = append(b, g...)
		}
		out = appendSection(out, 6, b)
	}
	exports := m.exports
	if m.memory {
		exports = append(exports, export{name: "memory", kind: 0x02})
	}
	if len(exports) > 0 {
		b := vec(len(exports))
		for _, e := range exports {
			b = appendULEB(append(appendName(b, e.name), e.kind), e.index)
		}
		out = appendSection(out, 7, b)
	}
	if m.start != nil {
		out = appendSection(out, 8, appendULEB(nil, *m.start))
	}
	if len(m.funcs) > 0 {
		b := vec(len(m.funcs))
		for _, f := range m.funcs {
			locals := f.locals
			if locals == nil {
				locals = []byte{0x00}
			}
			fb := append(append([]byte(nil), locals...), f.body...)
			b = append(appendULEB(b, uint32(len(fb))), fb...)
		}
		out = appendSection(out, 10, b)
	}
	for _, c := range m.customs {
		out = appendCustomSection(out, c[0], []byte(c[1]))
	}
	return out
}

// Instruction bytes used by the test modules.
var (
	loopForever = []byte{0x03, 0x40, 0x0c, 0x00, 0x0b} // loop br 0 end
	// loop (i32.const 0 local.set 2 loop (local.get 2 i32.const 1 i32.add
	// local.tee 2 i32.const 1000 i32.lt_u br_if 0) br 0) end
	nestedLoops = []byte{0x03, 0x40, 0x41, 0x00, 0x21, 0x02,
		0x03, 0x40, 0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02, 0x41, 0xe8, 0x07, 0x49, 0x0d, 0x00, 0x0b,
		0x0c, 0x00, 0x0b}
	// i64.const 64 call $fan drop: 2^64 calls, 64 deep, no loop
	recurse = []byte{0x42, 0xc0, 0x00, 0x10, 0x05, 0x1a}
	// loop (i32.const 0 i32.const 0 i32.const 0 call $log br 0) end
	logForever = []byte{0x03, 0x40, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x10, 0x00, 0x0c, 0x00, 0x0b}
)

// runawayModule is a transform plugin that echoes its input when it is at
// most 1000 bytes long and runs runaway otherwise; init, if set, is the
// body of its _initialize.
//
// Function indices: 0 weir.log (import), 1 alloc, 2 free, 3 transform,
// 4 _initialize, 5 fan(n i64) i64 = n == 0 ? 1 : fan(n-1) + fan(n-1).
func runawayModule(runaway, init []byte) []byte {
	transform := []byte{0x20, 0x01, 0x41, 0xe8, 0x07, 0x4b, 0x04, 0x40} // local.get 1 i32.const 1000 i32.gt_u if
	transform = append(transform, runaway...)
	transform = append(transform, 0x0b, // end
		0x20, 0x00, 0xad, 0x42, 0x20, 0x86, 0x20, 0x01, 0xad, 0x84, 0x0b) // ptr<<32 | len
	if init == nil {
		init = []byte{0x0b}
	}
	fan := []byte{0x20, 0x00, 0x50, 0x04, 0x7e, 0x42, 0x01, 0x05, // local.get 0 i64.eqz if (result i64) i64.const 1 else
		0x20, 0x00, 0x42, 0x01, 0x7d, 0x10, 0x05, // local.get 0 i64.const 1 i64.sub call 5
		0x20, 0x00, 0x42, 0x01, 0x7d, 0x10, 0x05, 0x7c, 0x0b, 0x0b} // ... call 5 i64.add end end
	m := testModule{
		types: [][2][]byte{
			{{i32}, {i32}},      // 0 alloc
			{{i32}, nil},        // 1 free
			{{i32, i32}, {i64}}, // 2 transform
			{nil, nil},          // 3 _initialize
			{{i32, i32, i32}, nil},
			{{i64}, {i64}},
		},
		imports: []testImport{{abi.ImportModule, abi.ImportLog, 4}},
		funcs: []testFunc{
			{typ: 0, body: []byte{0x41, 0x80, 0x08, 0x0b}}, // i32.const 1024
			{typ: 1, body: []byte{0x0b}},
			{typ: 2, locals: []byte{0x01, 0x01, i32}, body: transform},
			{typ: 3, body: init},
			{typ: 5, body: fan},
		},
		memory: true,
		exports: []export{{abi.ExportAlloc, 0, 1}, {abi.ExportFree, 0, 2},
			{abi.ExportTransform, 0, 3}, {abi.ExportInitialize, 0, 4}},
	}
	return withMetadata(m.encode(), runawayMeta)
}

var runawayMeta = abi.Metadata{ABIVersion: abi.Version, Name: "runaway", Version: "0.0.1",
	Capabilities: []abi.Capability{abi.CapabilityTransform}}
