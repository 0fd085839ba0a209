package plugin

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// instrumentCases are small modules that exercise the decoder: every
// immediate kind, a module without memory or globals, a start section,
// debug and name sections.
func instrumentCases() map[string][]byte {
	one := uint32(1)
	allOps := []byte{
		0x02, 0x40, 0x03, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b, // block (loop (result i32) i32.const 1) drop
		0x41, 0x00, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b, // if nop else nop end
		0x02, 0x40, 0x41, 0x00, 0x0e, 0x01, 0x00, 0x00, 0x0b, // block br_table 0 0
	}
	allOps = append(allOps,
		0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x04, 0x36, 0x02, 0x08, // i32.store(0, i32.load(0))
		0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x1a, // i64.const max
		0x43, 0x00, 0x00, 0x80, 0x3f, 0x1a, // f32.const 1
		0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x1a, // f64.const 1
		0x3f, 0x00, 0x1a, // memory.size
		0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x00, // memory.fill
		0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0a, 0x00, 0x00, // memory.copy
		0xfd, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // v128.const
		0xfd, 0x15, 0x03, 0x1a, // i8x16.extract_lane_s 3
		0x41, 0x00, 0xfd, 0x00, 0x04, 0x10, 0xfd, 0x62, 0x1a, // v128.load, i8x16.popcnt (0x62), drop
		0xd0, 0x70, 0xd1, 0x1a, // ref.null func ref.is_null drop
		0x41, 0x01, 0x41, 0x02, 0x41, 0x00, 0x1c, 0x01, 0x7f, 0x1a, // select (result i32)
		0x10, 0x00, // call 0 (itself: an entry check)
		0x23, 0x00, 0x24, 0x00, // global.get 0 global.set 0
		0x0b)
	return map[string][]byte{
		"empty": testModule{}.encode(),
		"all-immediates": testModule{
			types:   [][2][]byte{{nil, nil}},
			funcs:   []testFunc{{typ: 0, body: allOps}},
			memory:  true,
			globals: [][]byte{{i32, 0x01, 0x41, 0x07, 0x0b}},
			exports: []export{{"run", 0, 0}},
			customs: [][2]string{{".debug_info", "dwarf"}, {"name", "\x01\x04\x01\x00\x01f"}},
		}.encode(),
		"no-memory-start": testModule{
			types: [][2][]byte{{nil, nil}},
			funcs: []testFunc{{typ: 0, body: []byte{0x0b}}, {typ: 0, body: append(loopForever, 0x0b)}},
			start: &one,
		}.encode(),
		"runaway": runawayModule(nestedLoops, append(loopForever, 0x0b)),
	}
}

// TestInstrument checks that instrumented modules compile, that the
// rewrite is deterministic and matches the golden files, and that the flag
// is exported as a mutable i32.
func TestInstrument(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	cases := instrumentCases()
	for name, wasm := range rawModules {
		cases["go-"+name] = wasm
	}
	for name, wasm := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := r.CompileModule(ctx, wasm); err != nil {
				t.Fatalf("input does not compile: %v", err)
			}
			out, err := instrument(wasm)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := instrument(wasm)
			if !bytes.Equal(out, again) {
				t.Error("instrument is not deterministic")
			}
			cm, err := r.CompileModule(ctx, out)
			if err != nil {
				t.Fatalf("instrumented module does not compile: %v", err)
			}
			defer cm.Close(ctx)
			for _, s := range mustSections(t, out) {
				if strings.HasPrefix(s.name, ".debug_") || s.id == secStart {
					t.Errorf("section %d %q kept", s.id, s.name)
				}
			}
			if _, err := instrument(out); err == nil || !strings.Contains(err.Error(), "reserved") {
				t.Errorf("instrumenting twice: %v", err)
			}
			if strings.HasPrefix(name, "go-") {
				return // large; covered by the plugin tests
			}
			golden(t, filepath.Join("testdata", "instrument", name+".golden"), dumpCode(t, out))
		})
	}
}

func mustSections(t *testing.T, wasm []byte) []section {
	t.Helper()
	secs, err := readSections(wasm)
	if err != nil {
		t.Fatal(err)
	}
	return secs
}

// dumpCode lists the sections of a module, and each function body in hex.
func dumpCode(t *testing.T, wasm []byte) string {
	var b strings.Builder
	for _, s := range mustSections(t, wasm) {
		fmt.Fprintf(&b, "section %d %s %d bytes\n", s.id, s.name, len(s.body))
		if s.id == secGlobal || s.id == secExport || s.id == secMemory {
			fmt.Fprintf(&b, "  %s\n", hex.EncodeToString(s.body))
		}
		if s.id != secCode {
			continue
		}
		r := &wasmReader{b: s.body}
		for n := r.u32(); n > 0; n-- {
			fmt.Fprintf(&b, "  %s\n", hex.EncodeToString(r.bytes(r.u32())))
		}
	}
	return b.String()
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n%s", path, got)
	}
}

// TestInstrumentRefuses: modules the instrumenter must not accept.
func TestInstrumentRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		wasm []byte
		want string
	}{
		"reserved-export": {testModule{types: [][2][]byte{{nil, nil}},
			funcs:   []testFunc{{typ: 0, body: []byte{0x0b}}},
			exports: []export{{InterruptExport, 0, 0}}}.encode(), "reserved"},
		"reserved-start-export": {testModule{types: [][2][]byte{{nil, nil}},
			funcs:   []testFunc{{typ: 0, body: []byte{0x0b}}},
			exports: []export{{StartExport, 0, 0}}}.encode(), "reserved"},
		// global.set 0 in a module without globals would clear the flag.
		"unknown-global": {testModule{types: [][2][]byte{{nil, nil}},
			funcs: []testFunc{{typ: 0, body: []byte{0x41, 0x00, 0x24, 0x00, 0x0b}}}}.encode(), "out of range"},
		"unknown-opcode": {testModule{types: [][2][]byte{{nil, nil}},
			funcs: []testFunc{{typ: 0, body: []byte{0xff, 0x0b}}}}.encode(), "unknown opcode"},
		"truncated": {testModule{types: [][2][]byte{{nil, nil}},
			funcs: []testFunc{{typ: 0, body: []byte{0x02, 0x40}}}}.encode(), "unexpected end"},
		"not-wasm": {[]byte("\x00asm\x02\x00\x00\x00"), "not a wasm"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := instrument(tc.wasm); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The host refuses such a module as invalid.
	h := newTestHost(t, Options{})
	m := testModule{types: [][2][]byte{{nil, nil}}, funcs: []testFunc{{typ: 0, body: []byte{0x0b}}},
		exports: []export{{InterruptExport, 0, 0}}}
	if _, err := h.Load(context.Background(), Spec{Key: Key{Name: "x"}, Wasm: withMetadata(m.encode(), runawayMeta)}); err == nil ||
		!strings.Contains(err.Error(), "reserved") {
		t.Fatalf("load: %v", err)
	}
}

// FuzzInstrument: instrument never panics, and whatever module wazero
// accepts, it accepts instrumented too (unless it uses a reserved name).
func FuzzInstrument(f *testing.F) {
	for _, wasm := range instrumentCases() {
		f.Add(wasm)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV2))
	f.Cleanup(func() { _ = r.Close(ctx) })
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := instrument(wasm)
		if !plausibleCounts(wasm) {
			return // wazero would allocate for the count before it finds the end
		}
		cm, cerr := r.CompileModule(ctx, wasm)
		if cerr != nil {
			return
		}
		_ = cm.Close(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "reserved") {
				return
			}
			t.Fatalf("wazero accepts the module, instrument does not: %v", err)
		}
		cm, err = r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented module does not compile: %v", err)
		}
		_ = cm.Close(ctx)
	})
}

// plausibleCounts reports whether every vector count at the start of a
// non-custom section fits in the section and no function declares more
// than 65536 locals: wazero allocates for such counts before it reads
// the entries, which can exhaust a fuzzing worker's memory.
func plausibleCounts(wasm []byte) bool {
	secs, err := readSections(wasm)
	if err != nil {
		return true
	}
	for _, s := range secs {
		if s.id == secCustom || s.id == secStart {
			continue
		}
		r := &wasmReader{b: s.body}
		if n := r.u32(); r.err == nil && int64(n) > int64(len(s.body)) {
			return false
		}
		if s.id != secCode {
			continue
		}
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			body := &wasmReader{b: r.bytes(r.u32())}
			var locals uint64
			for m := body.u32(); m > 0 && body.err == nil; m-- {
				locals += uint64(body.u32())
				body.valType()
			}
			if locals > 1<<16 {
				return false
			}
		}
	}
	return true
}
