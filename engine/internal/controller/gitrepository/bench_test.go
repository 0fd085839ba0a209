package gitrepository

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/weir-gitops/weir/engine/internal/artifact"
	sourcegit "github.com/weir-gitops/weir/engine/internal/source/git"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkNewCommit10k is what a new commit costs on a repository of
// 10,000 files (100 directories of 100 YAML files, about 8 MB): a shallow
// clone over smart HTTP plus the deterministic archive, side by side with
// `git clone --depth 1` plus `tar czf` of the same commit from the same
// server. Each iteration pushes a new commit first (not timed).
func BenchmarkNewCommit10k(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Fatalf("tar is needed for this benchmark: %v", err)
	}
	git := testenv.NewGitServer(b)
	repo := git.NewRepo(b, "big")
	files := make(map[string]string, 10_000)
	for d := 0; d < 100; d++ {
		for f := 0; f < 100; f++ {
			files[fmt.Sprintf("apps/app-%03d/cm-%03d.yaml", d, f)] = fmt.Sprintf(
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%03d-%03d\n  namespace: app-%03d\ndata:\n  key: %0600d\n", d, f, d, d*100+f)
		}
	}
	repo.Commit("10k files", files)
	url := git.URL("big")
	commit := 0
	newCommit := func(b *testing.B) {
		b.StopTimer()
		commit++
		repo.Commit(fmt.Sprintf("change %d", commit), map[string]string{"apps/app-000/cm-000.yaml": fmt.Sprintf("n: %d\n", commit)})
		b.StartTimer()
	}
	b.Run("weir", func(b *testing.B) {
		st := &artifact.Storage{Root: b.TempDir(), BaseURL: "http://h"}
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			newCommit(b)
			dir, err := os.MkdirTemp(b.TempDir(), "co-")
			if err != nil {
				b.Fatal(err)
			}
			c, err := sourcegit.Client{}.Checkout(ctx, dir, sourcegit.Request{URL: url, Reference: sourcegit.Reference{Branch: "main"}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Archive(ctx, "GitRepository", "ns", "big", dir, "", c.Revision); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			_ = os.RemoveAll(dir)
			b.StartTimer()
		}
	})
	b.Run("git-cli", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			newCommit(b)
			dir := filepath.Join(b.TempDir(), "co")
			run(b, "", "git", "clone", "--quiet", "--depth", "1", "--branch", "main", url, dir)
			run(b, dir, "tar", "czf", filepath.Join(b.TempDir(), "a.tar.gz"), "--exclude=.git", ".")
			b.StopTimer()
			_ = os.RemoveAll(dir)
			b.StartTimer()
		}
	})
}

func run(b *testing.B, dir, name string, args ...string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
