package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Tool returns the path of bin/<name> in the nearest directory above the
// test's working directory that has it; `make tools` builds it there. It
// fails the test when the tool is missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := FindTool(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FindTool returns the path of bin/<name> in the nearest directory above the
// working directory that has it.
func FindTool(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	for {
		p := filepath.Join(dir, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("bin/%s is needed: run `make tools`", name)
		}
		dir = parent
	}
}
