package pluginabi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var moduleChecks = []check{
	{"metadata", checkMetadata},
	{"exports", checkExports},
	{"imports", checkImports},
}

// checkMetadata: exactly one weir.plugin.v1 section, abiVersion v1, a name,
// a version, known capabilities, and a configSchema that is a JSON object.
func checkMetadata(_ context.Context, e *env) error {
	meta, err := e.module.Metadata()
	if err != nil {
		return fmt.Errorf("the host refuses the metadata: %w", err)
	}
	var problems []string
	if meta.Version == "" {
		problems = append(problems, "version is empty")
	}
	seen := map[abi.Capability]bool{}
	for _, c := range meta.Capabilities {
		if seen[c] {
			problems = append(problems, fmt.Sprintf("capability %q is listed twice", c))
		}
		seen[c] = true
	}
	if len(meta.ConfigSchema) > 0 {
		var schema any
		if err := json.Unmarshal(meta.ConfigSchema, &schema); err != nil {
			problems = append(problems, "configSchema is not valid JSON")
		} else if _, ok := schema.(map[string]any); !ok {
			problems = append(problems, "configSchema is not a JSON object (a JSON Schema)")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	e.meta = meta
	e.base = LoadConfig{
		Limits:       Limits{Timeout: e.opts.Timeout, MemoryPages: e.opts.MemoryPages},
		Config:       e.config(),
		AllowedHosts: []string{e.sink.host},
	}
	return nil
}

// config is Options.Config, or the default for the module, with the sink
// URL substituted.
func (e *env) config() map[string]any {
	cfg := e.opts.Config
	if cfg == nil {
		cfg = map[string]any{}
		if slices.Contains(e.meta.Capabilities, abi.CapabilityNotify) {
			cfg["url"] = SinkPlaceholder
		}
	}
	return substitute(cfg, e.sink.url).(map[string]any)
}

// checkExports: the host compiles the module and finds memory, weir_alloc,
// weir_free and one export per capability with the exact signatures; the
// module is a reactor (no _start; _initialize, if any, is ()->()).
func checkExports(ctx context.Context, e *env) error {
	l, err := e.module.Load(ctx, e.base)
	if err != nil {
		return fmt.Errorf("the host refuses the module: %w", err)
	}
	e.loaded = l
	sh := l.Shape()
	exports := map[string]Func{}
	for _, f := range sh.Exports {
		exports[f.Name] = f
	}
	want := map[string]string{
		abi.ExportAlloc: signature([]string{"i32"}, []string{"i32"}),
		abi.ExportFree:  signature([]string{"i32"}, nil),
	}
	for _, c := range e.meta.Capabilities {
		want[c.Export()] = signature([]string{"i32", "i32"}, []string{"i64"})
	}
	var problems []string
	for _, name := range sortedKeys(want) {
		f, ok := exports[name]
		switch {
		case !ok:
			problems = append(problems, "missing export "+name)
		case f.Signature() != want[name]:
			problems = append(problems, fmt.Sprintf("export %s is %s, want %s", name, f.Signature(), want[name]))
		}
	}
	if !slices.Contains(sh.Memories, "memory") {
		problems = append(problems, `no exported memory "memory"`)
	}
	if _, ok := exports["_start"]; ok {
		problems = append(problems, "exports _start: a plugin is a WASI reactor, not a command")
	}
	if f, ok := exports[abi.ExportInitialize]; ok && f.Signature() != "()->()" {
		problems = append(problems, fmt.Sprintf("export _initialize is %s, want ()->()", f.Signature()))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// hostImports are the functions of the weir host module, by name.
var hostImports = map[string]string{
	abi.ImportLog:        signature([]string{"i32", "i32", "i32"}, nil),
	abi.ImportSetError:   signature([]string{"i32", "i32"}, nil),
	abi.ImportHTTPCall:   signature([]string{"i32", "i32"}, []string{"i64"}),
	abi.ImportResultRead: signature([]string{"i32", "i32"}, []string{"i32"}),
}

// checkImports: only wasi_snapshot_preview1 and the weir host functions,
// with their signatures.
func checkImports(_ context.Context, e *env) error {
	if e.loaded == nil {
		return errSkip{"exports failed"}
	}
	var problems []string
	for _, f := range e.loaded.Shape().Imports {
		switch f.Module {
		case "wasi_snapshot_preview1":
		case abi.ImportModule:
			want, ok := hostImports[f.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("imports unknown host function %s.%s", f.Module, f.Name))
			case f.Signature() != want:
				problems = append(problems, fmt.Sprintf("imports %s.%s as %s, want %s", f.Module, f.Name, f.Signature(), want))
			}
		default:
			problems = append(problems, fmt.Sprintf("imports %s.%s: only wasi_snapshot_preview1 and weir may be imported", f.Module, f.Name))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
