package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// modules holds the real example plugins and the test fixture, built from
// source by TestMain: name -> module bytes with metadata.
var modules = map[string][]byte{}

// rawModules are the same modules without metadata.
var rawModules = map[string][]byte{}

// sharedCache is a compilation cache directory reused by most tests.
var sharedCache string

var sources = []struct {
	name, dir string
	caps      []abi.Capability
}{
	{"add-labels", "../../../plugins/examples/add-labels", []abi.Capability{abi.CapabilityTransform}},
	{"phase-health", "../../../plugins/examples/phase-health", []abi.Capability{abi.CapabilityHealth}},
	{"webhook-notifier", "../../../plugins/examples/webhook-notifier", []abi.Capability{abi.CapabilityNotify}},
	{"fixture", "testdata/fixture", []abi.Capability{abi.CapabilityTransform}},
}

func TestMain(m *testing.M) {
	if wasm := os.Getenv(startChildEnv); wasm != "" {
		if err := cachedStartChild(wasm, os.Getenv(startChildCacheEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "cached start:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "weir-plugin-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	sharedCache = filepath.Join(dir, "cache")
	if err := buildModules(dir); err != nil {
		fmt.Fprintln(os.Stderr, "build test plugins:", err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildModules compiles each source with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared, one at a time, and appends its metadata section.
func buildModules(dir string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("find go: %w", err)
	}
	for _, s := range sources {
		out := filepath.Join(dir, s.name+".wasm")
		cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", s.name, err, b)
		}
		wasm, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		rawModules[s.name] = wasm
		meta := abi.Metadata{ABIVersion: abi.Version, Name: s.name, Version: "0.0.1", Capabilities: s.caps}
		if b, err := os.ReadFile(filepath.Join(s.dir, "plugin.json")); err == nil {
			// The example's own metadata, as its README embeds it.
			if err := json.Unmarshal(b, &meta); err != nil {
				return fmt.Errorf("%s/plugin.json: %w", s.name, err)
			}
		}
		modules[s.name] = withMetadata(wasm, meta)
	}
	return nil
}

func withMetadata(wasm []byte, m abi.Metadata) []byte {
	payload, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return appendCustomSection(wasm, abi.CustomSection, payload)
}

// appendCustomSection appends section id 0: LEB128 size, LEB128 name
// length, name, payload.
func appendCustomSection(wasm []byte, name string, payload []byte) []byte {
	body := appendULEB(nil, uint32(len(name)))
	body = append(append(body, name...), payload...)
	out := append(append([]byte(nil), wasm...), 0)
	return append(appendULEB(out, uint32(len(body))), body...)
}

func newTestHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = sharedCache
	}
	h, err := NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

func load(t testing.TB, h *Host, name string, spec Spec) *Plugin {
	t.Helper()
	spec.Wasm = modules[name]
	if spec.Key.Name == "" {
		spec.Key = Key{Namespace: "test", Name: name}
	}
	p, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func items(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%d", i), "namespace": "default"},
			"data":     map[string]any{"key": "value"}}
	}
	return out
}

func fixtureList(cfg map[string]any) *abi.ResourceList {
	return &abi.ResourceList{Items: items(1), FunctionConfig: map[string]any{"data": cfg}}
}
