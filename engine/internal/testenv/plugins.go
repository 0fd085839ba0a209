package testenv

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/meta"
)

var (
	pluginMu    sync.Mutex
	pluginBuilt = map[string][]byte{}
)

// ExamplePlugin builds plugins/examples/<name> from source for wasip1 and
// embeds its plugin.json metadata, as `make plugins` does. Builds are cached
// for the life of the test binary.
func ExamplePlugin(t testing.TB, name string) []byte {
	t.Helper()
	dir := findUp(t, filepath.Join("plugins", "examples", name))
	raw, err := os.ReadFile(filepath.Join(dir, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m abi.Metadata
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s/plugin.json: %v", name, err)
	}
	var bare []byte
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		bare = BuildModule(t, dir)
	} else {
		bare = BuildCModule(t, dir)
	}
	wasm, err := meta.Embed(bare, m)
	if err != nil {
		t.Fatalf("embed metadata of %s: %v", name, err)
	}
	return wasm
}

// BuildCModule builds a plugin written in C with its own Makefile (`make
// module`, which runs clang for wasm32-wasi) and returns the module, without
// metadata. A missing toolchain fails the test: `make wasi-toolchain`
// installs it. Builds are cached by directory for the life of the test binary.
func BuildCModule(t testing.TB, dir string) []byte {
	t.Helper()
	const install = "run `make wasi-toolchain` (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)"
	return cachedBuild(t, dir, func(dir, out string) {
		for _, tool := range []string{"make", "clang", "wasm-ld"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Fatalf("build plugin %s: %s not found: %s", dir, tool, install)
			}
		}
		cmd := exec.Command("make", "--no-print-directory", "-s", "-C", dir, "module", "OUT="+out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build plugin %s: %v\n%s\nA missing header, libc.a or libclang_rt.builtins-wasm32.a means the toolchain is incomplete: %s", dir, err, b, install)
		}
	})
}

// FixturePlugin builds the misbehaving transform plugin of the plugin
// host's tests (engine/internal/plugin/testdata/fixture), whose
// functionConfig mode picks the misbehaviour ("loop" never returns).
func FixturePlugin(t testing.TB) []byte {
	t.Helper()
	dir := findUp(t, filepath.Join("engine", "internal", "plugin", "testdata", "fixture"))
	wasm, err := meta.Embed(BuildModule(t, dir), abi.Metadata{ABIVersion: abi.Version, Name: "fixture",
		Version: "0.0.1", Capabilities: []abi.Capability{abi.CapabilityTransform}})
	if err != nil {
		t.Fatalf("embed metadata of the fixture: %v", err)
	}
	return wasm
}

// BuildModule builds the Go main package in dir with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared and returns the module, without metadata.
// Builds are cached by directory for the life of the test binary.
func BuildModule(t testing.TB, dir string) []byte {
	t.Helper()
	return cachedBuild(t, dir, func(dir, out string) {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build plugin %s: %v\n%s", dir, err, b)
		}
	})
}

// cachedBuild returns the module that build writes to out for dir, building
// it once per directory for the life of the test binary.
func cachedBuild(t testing.TB, dir string, build func(dir, out string)) []byte {
	t.Helper()
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	pluginMu.Lock()
	defer pluginMu.Unlock()
	if b, ok := pluginBuilt[dir]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), filepath.Base(dir)+".wasm")
	build(dir, out)
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	pluginBuilt[dir] = wasm
	return wasm
}

// findUp returns the first directory named rel above the working directory.
func findUp(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("%s not found above the working directory", rel)
		}
		dir = parent
	}
}
