package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Options configure a Host.
type Options struct {
	// CacheDir holds wazero's on-disk compilation cache. Empty: in memory.
	CacheDir string
	// Registerer receives the plugin metrics. Nil: metrics are not exported.
	Registerer prometheus.Registerer
	// Logger receives guest logs and captured stdout/stderr.
	Logger logr.Logger
	// HTTPClient performs http_call requests. Nil: a client with no proxy
	// that refuses private and loopback addresses allowedHosts does not name
	// as IP literals (or localhost). allowedHosts is re-checked on every
	// redirect whichever client is used.
	HTTPClient *http.Client
	// NoInterrupt compiles guests as they are, without the interrupt checks
	// that let a timeout stop a running call (see instrument). A runaway
	// guest can then no longer be stopped, and a long call also delays
	// every garbage collection of the process until it returns (Go cannot
	// preempt wazero's native code): only for trusted plugins and
	// benchmarks.
	NoInterrupt bool

	// contextDone stops guests with wazero's WithCloseOnContextDone instead
	// of instrumenting them: a check at every loop back-edge that exits to
	// Go, ~10x slower in loops. Kept to measure against (benchmarks only).
	contextDone bool
}

// Host compiles and runs plugins. One Host serves every Plugin of a process;
// it shares compiled code between Plugins but never instances.
type Host struct {
	opts    Options
	cache   wazero.CompilationCache
	metrics *metrics
	client  *http.Client

	// closing ends when Close is called, and with it every call in flight.
	closing context.Context
	close   context.CancelFunc

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*runtime // by memory limit in pages
}

// runtime is a wazero runtime for one memory limit (a runtime-wide setting
// in wazero) with the modules compiled for it, by digest.
type runtime struct {
	r        wazero.Runtime
	mu       sync.Mutex
	compiled map[string]*module
}

// module is a compiled, validated plugin module.
type module struct {
	digest   string
	compiled wazero.CompiledModule
	meta     abi.Metadata
	// interruptible: compiled from instrumented code that exports the
	// interrupt flag.
	interruptible bool
}

// NewHost returns a Host. Close it to release compiled code.
func NewHost(opts Options) (*Host, error) {
	h := &Host{opts: opts, runtimes: map[uint32]*runtime{}, client: opts.HTTPClient}
	h.closing, h.close = context.WithCancel(context.Background())
	if opts.Logger.GetSink() == nil {
		h.opts.Logger = logr.Discard()
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	if opts.CacheDir != "" {
		if h.cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("open compilation cache: %w", err)
		}
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	if h.client == nil {
		h.client = defaultHTTPClient()
	}
	return h, nil
}

// Close closes every runtime (and so every instance) and the cache.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.close()
	var errs []error
	for _, rt := range h.runtimes {
		errs = append(errs, rt.r.Close(ctx))
	}
	errs = append(errs, h.cache.Close(ctx))
	return errors.Join(errs...)
}

func (h *Host) runtime(ctx context.Context, pages uint32) (*runtime, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if rt, ok := h.runtimes[pages]; ok {
		return rt, nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(h.opts.contextDone && !h.opts.NoInterrupt)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	if err := instantiateHostModule(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	rt := &runtime{r: r, compiled: map[string]*module{}}
	h.runtimes[pages] = rt
	return rt, nil
}

// Digest returns the sha256 digest of a module in OCI form.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// compile compiles wasm once per digest and memory limit, and validates it.
func (h *Host) compile(ctx context.Context, wasm []byte, pages uint32) (*module, error) {
	rt, err := h.runtime(ctx, pages)
	if err != nil {
		return nil, err
	}
	digest := Digest(wasm)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if m, ok := rt.compiled[digest]; ok {
		return m, nil
	}
	meta, err := readMetadata(wasm)
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w: %w", digest, ErrInvalidModule, err)
	}
	if err := checkMemoryMinimum(wasm, pages); err != nil {
		return nil, fmt.Errorf("check %s: %w", digest, err)
	}
	code, interruptible := wasm, !h.opts.NoInterrupt && !h.opts.contextDone
	if interruptible {
		if code, err = instrument(wasm); err != nil {
			return nil, fmt.Errorf("instrument %s: %w: %w", digest, ErrInvalidModule, err)
		}
	}
	h.metrics.compiles.Inc()
	cm, err := rt.r.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w: %w", digest, ErrInvalidModule, err)
	}
	if err := validate(cm, meta); err != nil {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("validate %s: %w: %w", digest, ErrInvalidModule, err)
	}
	m := &module{digest: digest, compiled: cm, meta: meta, interruptible: interruptible}
	rt.compiled[digest] = m
	return m, nil
}

// validate checks the exports that meta implies against the compiled module.
func validate(cm wazero.CompiledModule, meta abi.Metadata) error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	want := map[string][2][]api.ValueType{
		abi.ExportAlloc: {{i32}, {i32}},
		abi.ExportFree:  {{i32}, nil},
	}
	for _, c := range meta.Capabilities {
		want[c.Export()] = [2][]api.ValueType{{i32, i32}, {i64}}
	}
	fns := cm.ExportedFunctions()
	for name, sig := range want {
		fn, ok := fns[name]
		if !ok {
			return fmt.Errorf("missing export %s", name)
		}
		if !sameTypes(fn.ParamTypes(), sig[0]) || !sameTypes(fn.ResultTypes(), sig[1]) {
			return fmt.Errorf("export %s has the wrong signature", name)
		}
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		return errors.New("missing exported memory")
	}
	return nil
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
