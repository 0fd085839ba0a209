package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Tool returns the path of bin/<name> in the nearest directory above the
// test's working directory that has it; `make tools` builds it there. It
// fails the test when the tool is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("bin/%s is needed for this test: run `make tools`", name)
		}
		dir = parent
	}
}
