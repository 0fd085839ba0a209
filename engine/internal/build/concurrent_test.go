package build

import (
	"context"
	"sync"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

// TestConcurrentBuilds runs builds at once, as the stage's workers do, some
// with a kustomization that pins kustomize's OpenAPI schema to an older
// version: under -race this catches kustomize's shared schema state, and
// every build must still see the image its own patch sets.
func TestConcurrentBuilds(t *testing.T) {
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx\n"
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kus := "resources:\n- d.yaml\n"
			if i%2 == 0 {
				kus += "openapi:\n  version: v1.21.2\n"
			}
			image := "other:" + string(rune('a'+i))
			k := &kustomizev1.Kustomization{}
			k.Spec.Path = "./"
			k.Spec.TargetNamespace = "x"
			k.Spec.Patches = []kustomize.Patch{{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: " + image + "\n"}}
			k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"v": "1"}}
			dec, _ := decrypt.New(nil)
			for range 3 {
				fs := source(t, map[string]string{"kustomization.yaml": kus, "d.yaml": deployment})
				out, err := Build(context.Background(), fs, k, Options{Decryptor: dec})
				if err != nil {
					t.Error(err)
					return
				}
				cs, _, _ := unstructured.NestedSlice(out[0].Object, "spec", "template", "spec", "containers")
				if len(cs) != 1 || cs[0].(map[string]any)["image"] != image {
					t.Errorf("build %d: containers %v, want image %s", i, cs, image)
					return
				}
			}
		}()
	}
	wg.Wait()
}
