package build

import (
	"context"
	"fmt"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

func BenchmarkBuildConfigMaps(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				fs := filesys.MakeFsInMemory()
				_ = fs.MkdirAll(SrcRoot)
				var sb strings.Builder
				for j := range n {
					fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%05d\ndata:\n  k: v\n", j)
					if j%100 == 99 || j == n-1 {
						_ = fs.WriteFile(fmt.Sprintf("%s/cm-%03d.yaml", SrcRoot, j/100), []byte(sb.String()))
						sb.Reset()
					}
				}
				k := &kustomizev1.Kustomization{}
				k.Spec.Path = "./"
				k.Spec.TargetNamespace = "x"
				dec, _ := decrypt.New(nil)
				out, err := Build(context.Background(), fs, k, Options{Decryptor: dec, NoRemoteBases: true})
				if err != nil {
					b.Fatal(err)
				}
				if len(out) != n {
					b.Fatal(len(out))
				}
			}
		})
	}
}
