package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/meta"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "p.wasm")
	js := filepath.Join(dir, "p.json")
	if err := os.WriteFile(in, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(js, []byte(`{"abiVersion":"v1","name":"p","version":"1.0.0","capabilities":["health"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", in, "-meta", js}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(in)
	m, err := meta.Read(b)
	if err != nil || m.Name != "p" || m.Capabilities[0] != "health" {
		t.Fatalf("%+v %v", m, err)
	}
	if err := os.WriteFile(js, []byte(`{"abiVersion":"v2","name":"p","capabilities":["health"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", in, "-meta", js}); err == nil {
		t.Fatal("accepted abiVersion v2")
	}
}
