package pluginabi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the kit black-box: no engine package, Wasm runtime or
// Kubernetes package among its dependencies.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/weir-gitops/weir/engine", "github.com/tetratelabs/wazero", "k8s.io/", "sigs.k8s.io/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the kit depends on %s", dep)
			}
		}
	}
}
