package plugin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// panickingTransport is an HTTP client's transport that panics: http_call
// runs it inside the host function.
type panickingTransport struct{}

func (panickingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	var m map[string]string
	m["boom"] = "x" // a Go runtime panic: assignment to entry in nil map
	return nil, nil
}

// outOfRange is a result whose pointer, 0xffff0000, plus its length,
// 128 KiB, passes 4 GiB.
var outOfRange = int64(-0x10000<<32 | 0x20000) // 0xffff0000_00020000

const hostileRequest = `{"url":"http://example.test/"}`

// withRequest puts an http_call request at 2048 in the guest's memory.
func withRequest(m *wasmModule) {
	m.data = append(m.data, wasmData{offset: 2048, bytes: []byte(hostileRequest)})
}

// growLoop grows the memory one page at a time and fills every new page,
// so each page costs RSS, until memory.grow fails; then it traps.
var growLoop = cat(
	[]byte{opBlock, blockVoid, opLoop, blockVoid},
	i32c(1), []byte{opMemoryGrow, 0, opLocalTee, 2}, i32c(-1), []byte{opI32Eq, opBrIf, 1},
	[]byte{opLocalGet, 2}, i32c(16), []byte{opI32Shl}, i32c(1), i32c(65536),
	[]byte{opPrefixFC, opMemoryFill, 0},
	[]byte{opBr, 0, opEnd, opEnd, opUnreachable},
)

// TestHostileGuests runs guests that break the ABI or the Wasm machine in
// the ways a hostile or broken plugin can: each call fails with its typed
// error, the instance is discarded, the process goes on and the next call
// on the same Plugin works on a fresh instance.
func TestHostileGuests(t *testing.T) {
	tests := []struct {
		name      string
		misbehave []byte
		edit      func(*wasmModule)
		opts      Options
		spec      Spec
		want      error
		detail    string // in the error text
	}{
		{name: "deep recursion", misbehave: []byte{opCall, fnRecurse},
			// Growing the stack to wazero's ceiling copies about 200 MB,
			// which takes seconds under the race detector on a busy machine.
			spec: Spec{Limits: Limits{Timeout: 2 * time.Minute}},
			want: ErrTrap, detail: "stack overflow"},
		{name: "unreachable", misbehave: []byte{opUnreachable},
			want: ErrTrap, detail: "unreachable"},
		{name: "integer division by zero", misbehave: cat(i32c(1), i32c(0), []byte{opI32DivU, opDrop}),
			want: ErrTrap, detail: "integer divide by zero"},
		{name: "out-of-bounds load", misbehave: cat(i32c(-4), []byte{opI32Load, 2, 0, opDrop}),
			want: ErrTrap, detail: "out of bounds memory access"},
		{name: "out-of-bounds pointer to a host import",
			misbehave: cat(i32c(-16), i32c(100), []byte{opCall, fnHTTPCall, opDrop}),
			want:      ErrTrap, detail: "out-of-bounds memory"},
		{name: "panic in a host function",
			misbehave: cat(i32c(2048), i32c(int32(len(hostileRequest))), []byte{opCall, fnHTTPCall, opDrop}),
			edit:      withRequest,
			opts:      Options{HTTPClient: &http.Client{Transport: panickingTransport{}}},
			spec:      Spec{AllowedHosts: []string{"example.test"}},
			want:      ErrHostFunction, detail: "assignment to entry in nil map"},
		{name: "output length of 4 GiB", misbehave: cat(i64c(inputPtr<<32|0xffffffff), []byte{opReturn}),
			want: ErrOutputTooLarge, detail: "4294967295 bytes"},
		{name: "output pointer plus length past 32 bits",
			misbehave: cat(i64c(outOfRange), []byte{opReturn}),
			want:      ErrBadOutput, detail: "out of bounds"},
		{name: "memory.grow loop", misbehave: growLoop,
			spec: Spec{Limits: Limits{MemoryPages: 512}},
			want: ErrMemoryLimit, detail: "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost(t, tt.opts)
			spec := tt.spec
			spec.Key = Key{Namespace: "hostile", Name: strings.ReplaceAll(tt.name, " ", "-")}
			spec.Wasm = hostilePlugin(tt.misbehave, edits(tt.edit)...)
			p, err := h.Load(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Close(context.Background()) }()
			for range 2 { // the second time on a fresh instance
				_, err = p.Transform(context.Background(), hostileInput())
				var ce *CallError
				if !errors.As(err, &ce) || ce.Kind != tt.want || !ce.Discarded {
					t.Fatalf("got %v, want a discarding %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.detail) {
					t.Errorf("error %q does not mention %q", err, tt.detail)
				}
				if n := testutil.ToFloat64(h.metrics.instances.WithLabelValues(spec.Key.String())); n != 0 {
					t.Errorf("live instances after the failure = %v, want 0", n)
				}
				out, err := p.Transform(context.Background(), calmInput())
				if err != nil {
					t.Fatalf("next call: %v", err)
				}
				if len(out.Items) != 0 {
					t.Fatalf("next call returned %d items", len(out.Items))
				}
			}
		})
	}
}

func edits(e func(*wasmModule)) []func(*wasmModule) {
	if e == nil {
		return nil
	}
	return []func(*wasmModule){e}
}

// TestHostileModulesRefused checks modules Load refuses before compiling
// them, with a typed error, leaving the Host able to load the next one.
func TestHostileModulesRefused(t *testing.T) {
	tests := []struct {
		name   string
		wasm   []byte
		limits Limits
		want   []error
		detail string
	}{
		{name: "declared minimum memory above the limit",
			wasm:   hostilePlugin(nil, func(m *wasmModule) { m.memMin = 513 }),
			limits: Limits{MemoryPages: 512},
			want:   []error{ErrInvalidModule, ErrMemoryLimit},
			detail: "minimum of 513 pages (32.0625 MiB), over the limit of 512 pages (32 MiB)"},
		{name: "50 MB module, default limit",
			wasm:   hostilePlugin(nil, func(m *wasmModule) { m.pad = 50 << 20 }),
			want:   []error{ErrModuleTooLarge},
			detail: "limit 33554432"},
		{name: "module over a set limit",
			wasm:   hostilePlugin(nil),
			limits: Limits{MaxModuleBytes: 100},
			want:   []error{ErrModuleTooLarge},
			detail: "limit 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost(t, Options{})
			_, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "hostile", Name: "refused"},
				Wasm: tt.wasm, Limits: tt.limits})
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want %v", err, w)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q does not mention %q", err, tt.detail)
			}
			if n := testutil.ToFloat64(h.metrics.compiles); n != 0 {
				t.Errorf("%v modules compiled, want none", n)
			}
			p, err := h.Load(context.Background(), Spec{Key: Key{Namespace: "hostile", Name: "calm"},
				Wasm: hostilePlugin(nil), Limits: Limits{MemoryPages: 512}})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Close(context.Background()) }()
			if _, err := p.Transform(context.Background(), calmInput()); err != nil {
				t.Fatal(err)
			}
		})
	}
}
