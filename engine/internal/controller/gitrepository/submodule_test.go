package gitrepository

import (
	"context"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// Submodules are checked out for branch and commit references alike.
func TestRecurseSubmodules(t *testing.T) {
	start(t)
	git := testenv.NewGitServer(t)
	sub := git.NewRepo(t, "sub")
	sub.Commit("sub", map[string]string{"lib.yaml": "lib: 1\n"})
	parent := git.NewRepo(t, "parent")
	parent.Commit("one", map[string]string{"app.yaml": "app: 1\n"})
	parent.Git("submodule", "--quiet", "add", git.URL("sub"), "vendor/sub")
	sha := parent.Commit("add submodule", nil)
	ns := env.Namespace(t)
	for name, ref := range map[string]sourcev1.GitRepositoryRef{"branch": {Branch: "main"}, "commit": {Commit: sha}} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, name, git.URL("parent"), func(o *sourcev1.GitRepository) {
				o.Spec.Reference = &ref
				o.Spec.RecurseSubmodules = true
			})
			g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
			got := waitReadyAny(t, client.ObjectKeyFromObject(obj))
			g.Expect(got.Status.Artifact.Revision).To(HaveSuffix(sha))
			g.Expect(testenv.TarNames(t, fetch(t, got.Status.Artifact.URL))).To(ContainElements("app.yaml", "vendor/sub/lib.yaml"))
		})
	}
}
