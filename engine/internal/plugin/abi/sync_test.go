package abi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestSameAsSDK fails when this copy drifts from plugins/sdk/abi.
func TestSameAsSDK(t *testing.T) {
	for _, f := range []string{"abi.go", "messages.go"} {
		ours, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "plugins", "sdk", "abi", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s differs from plugins/sdk/abi/%s: copy it over", f, f)
		}
	}
}
