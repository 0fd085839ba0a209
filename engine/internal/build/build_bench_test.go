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

// BenchmarkBuildConfigMaps builds n plain ConfigMaps with a target
// namespace (in pieces, see chunked). BenchmarkBuildWhole builds 1000 of
// them as one kustomize build: pure CPU and quadratic, a calibration of the
// machine next to the API server benchmarks.
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

func BenchmarkBuildWhole(b *testing.B) {
	files := many("cm", 1000, configMapDoc)
	k := &kustomizev1.Kustomization{}
	k.Spec.TargetNamespace = "x"
	dec, _ := decrypt.New(nil)
	for b.Loop() {
		fs := source(b, files)
		if _, err := generate(fs, SrcRoot); err != nil {
			b.Fatal(err)
		}
		rs, err := wholeBuild(fs, SrcRoot, k, true, dec)
		if err != nil || len(rs) != 1000 {
			b.Fatal(len(rs), err)
		}
	}
}
