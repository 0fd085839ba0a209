package gitrepository

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func includes(in ...sourcev1.GitRepositoryInclude) func(*sourcev1.GitRepository) {
	return func(o *sourcev1.GitRepository) { o.Spec.Include = in }
}

func include(name, from, to string) sourcev1.GitRepositoryInclude {
	return sourcev1.GitRepositoryInclude{GitRepositoryRef: meta.LocalObjectReference{Name: name}, FromPath: from, ToPath: to}
}

func TestSparseCheckout(t *testing.T) {
	g := NewWithT(t)
	start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "mono")
	first := repo.Commit("one", map[string]string{
		"apps/a.yaml": "a: 1\n", "apps2/b.yaml": "b: 1\n", "apps.yaml": "x: 1\n",
		"infra/x.yaml": "x: 1\n", "infra/deep/y.yaml": "y: 1\n", "root.yaml": "r: 1\n",
	})
	ns := env.Namespace(t)
	ctx := context.Background()
	sparse := func(dirs ...string) func(*sourcev1.GitRepository) {
		return func(o *sourcev1.GitRepository) { o.Spec.SparseCheckout = dirs }
	}
	a := testenv.GitRepository(ns, "a", git.URL("mono"), sparse("./apps", "infra/"))
	b := testenv.GitRepository(ns, "b", git.URL("mono"), sparse("infra", "apps", "apps"))
	c := testenv.GitRepository(ns, "c", git.URL("mono"), sparse("apps"), func(o *sourcev1.GitRepository) {
		o.Spec.Reference = &sourcev1.GitRepositoryRef{Commit: first}
	})
	for _, o := range []*sourcev1.GitRepository{a, b, c} {
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
	}
	gotA := waitReady(t, client.ObjectKeyFromObject(a), "main@sha1:"+first)
	gotB := waitReady(t, client.ObjectKeyFromObject(b), "main@sha1:"+first)
	gotC := waitReady(t, client.ObjectKeyFromObject(c), "sha1:"+first)

	// Only the listed directories, not their namesakes (apps2/, apps.yaml)
	// nor the root files; the order and spelling of the list do not matter.
	g.Expect(testenv.TarNames(t, fetch(t, gotA.Status.Artifact.URL))).To(Equal([]string{
		"apps/", "apps/a.yaml", "infra/", "infra/deep/", "infra/deep/y.yaml", "infra/x.yaml"}))
	g.Expect(gotB.Status.Artifact.Digest).To(Equal(gotA.Status.Artifact.Digest))
	g.Expect(gotA.Status.ObservedSparseCheckout).To(Equal([]string{"./apps", "infra/"}))
	g.Expect(testenv.TarNames(t, fetch(t, gotC.Status.Artifact.URL))).To(Equal([]string{"apps/", "apps/a.yaml"}))

	// A commit outside the sparse directories gives a new revision with the
	// same content, hence the same digest.
	second := repo.Commit("two", map[string]string{"root.yaml": "r: 2\n", "apps2/b.yaml": "b: 2\n"})
	requestReconcile(t, client.ObjectKeyFromObject(a), "two")
	again := waitReady(t, client.ObjectKeyFromObject(a), "main@sha1:"+second)
	g.Expect(again.Status.Artifact.Digest).To(Equal(gotA.Status.Artifact.Digest))

	// Widening the list rebuilds the artifact at the same revision.
	p := client.MergeFrom(again.DeepCopy())
	again.Spec.SparseCheckout = []string{"apps", "apps2", "infra"}
	g.Expect(env.Client.Patch(ctx, again, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		o := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(a), o)).To(Succeed())
		g.Expect(o.Status.ObservedSparseCheckout).To(Equal([]string{"apps", "apps2", "infra"}))
		g.Expect(testenv.TarNames(t, fetch(t, o.Status.Artifact.URL))).To(ContainElement("apps2/b.yaml"))
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestInclude(t *testing.T) {
	g := NewWithT(t)
	start(t)
	git := testenv.NewGitServer(t)
	lib := git.NewRepo(t, "lib")
	libSHA := lib.Commit("lib", map[string]string{"deploy/base/cm.yaml": "v: 1\n", "README.md": "lib\n"})
	app := git.NewRepo(t, "app")
	appSHA := app.Commit("app", map[string]string{"app.yaml": "app: 1\n", "vendor/keep.yaml": "k: 1\n"})
	ns := env.Namespace(t)
	ctx := context.Background()

	// The included GitRepository does not exist yet.
	appObj := testenv.GitRepository(ns, "app", git.URL("app"), includes(
		include("lib", "deploy", "vendor/lib"), include("lib", "", "")))
	g.Expect(env.Client.Create(ctx, appObj)).To(Succeed())
	appKey := client.ObjectKeyFromObject(appObj)
	got := waitFailed(t, appKey, includeNotFoundReason)
	g.Expect(conditions.IsTrue(got, sourcev1.IncludeUnavailableCondition)).To(BeTrue())
	g.Expect(conditions.GetMessage(got, sourcev1.IncludeUnavailableCondition)).To(ContainSubstring("could not get resource for include 'lib'"))
	g.Expect(got.Status.Artifact).To(BeNil())

	// Once it has an artifact, the including one is built from it.
	libObj := testenv.GitRepository(ns, "lib", git.URL("lib"))
	g.Expect(env.Client.Create(ctx, libObj)).To(Succeed())
	libKey := client.ObjectKeyFromObject(libObj)
	libGot := waitReady(t, libKey, "main@sha1:"+libSHA)
	appGot := waitReady(t, appKey, "main@sha1:"+appSHA)
	g.Expect(conditions.Has(appGot, sourcev1.IncludeUnavailableCondition)).To(BeFalse())
	// toPath defaults to the included GitRepository's name.
	g.Expect(testenv.TarNames(t, fetch(t, appGot.Status.Artifact.URL))).To(Equal([]string{
		"app.yaml", "lib/", "lib/README.md", "lib/deploy/", "lib/deploy/base/", "lib/deploy/base/cm.yaml",
		"vendor/", "vendor/keep.yaml", "vendor/lib/", "vendor/lib/base/", "vendor/lib/base/cm.yaml",
	}))
	g.Expect(appGot.Status.IncludedArtifacts).To(HaveLen(2))
	g.Expect(appGot.Status.IncludedArtifacts[0].Digest).To(Equal(libGot.Status.Artifact.Digest))
	g.Expect(appGot.Status.ObservedInclude).To(Equal(appGot.Spec.Include))

	// A new artifact of the included GitRepository rebuilds the including
	// one at once: only lib is asked to reconcile, app's interval is a
	// minute away.
	libSHA2 := lib.Commit("lib 2", map[string]string{"deploy/base/cm.yaml": "v: 2\n"})
	requestReconcile(t, libKey, "lib2")
	libGot2 := waitReady(t, libKey, "main@sha1:"+libSHA2)
	g.Eventually(func(g Gomega) {
		o := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, appKey, o)).To(Succeed())
		g.Expect(o.Status.IncludedArtifacts).To(HaveLen(2))
		g.Expect(o.Status.IncludedArtifacts[0].Revision).To(Equal(libGot2.Status.Artifact.Revision))
		g.Expect(o.Status.Artifact.Digest).NotTo(Equal(appGot.Status.Artifact.Digest))
		g.Expect(conditions.IsReady(o)).To(BeTrue())
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(fetch(t, mustArtifactURL(t, appKey))).NotTo(BeEmpty())
}

func mustArtifactURL(t *testing.T, key client.ObjectKey) string {
	t.Helper()
	o := &sourcev1.GitRepository{}
	if err := env.Client.Get(context.Background(), key, o); err != nil {
		t.Fatal(err)
	}
	return o.Status.Artifact.URL
}

func TestIncludeUnavailableAndCycles(t *testing.T) {
	g := NewWithT(t)
	start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "r")
	repo.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	ns := env.Namespace(t)
	ctx := context.Background()

	// The included GitRepository exists but has no artifact.
	broken := testenv.GitRepository(ns, "broken", git.URL("r"), func(o *sourcev1.GitRepository) { o.Spec.Reference.Branch = "nope" })
	user := testenv.GitRepository(ns, "user", git.URL("r"), includes(include("broken", "", "")))
	g.Expect(env.Client.Create(ctx, broken)).To(Succeed())
	g.Expect(env.Client.Create(ctx, user)).To(Succeed())
	got := waitFailed(t, client.ObjectKeyFromObject(user), includeNoArtifactReason)
	g.Expect(conditions.IsTrue(got, sourcev1.IncludeUnavailableCondition)).To(BeTrue())
	g.Expect(conditions.GetReason(got, sourcev1.IncludeUnavailableCondition)).To(Equal(includeNoArtifactReason))
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("no artifact available for include 'broken'"))
	g.Expect(got.Status.Artifact).To(BeNil())

	// Mending the included GitRepository makes the include available.
	b := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(broken), b)).To(Succeed())
	p := client.MergeFrom(b.DeepCopy())
	b.Spec.Reference.Branch = "main"
	g.Expect(env.Client.Patch(ctx, b, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		o := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(user), o)).To(Succeed())
		g.Expect(conditions.IsReady(o)).To(BeTrue(), conditions.GetMessage(o, meta.ReadyCondition))
		g.Expect(conditions.Has(o, sourcev1.IncludeUnavailableCondition)).To(BeFalse())
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())

	// Includes that lead back to the object, and paths out of the artifact,
	// need a spec change.
	x := testenv.GitRepository(ns, "x", git.URL("r"), includes(include("y", "", "")))
	y := testenv.GitRepository(ns, "y", git.URL("r"), includes(include("x", "", "")))
	up := testenv.GitRepository(ns, "up", git.URL("r"), includes(include("user", "", "../../etc")))
	for _, o := range []*sourcev1.GitRepository{x, y, up} {
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
	}
	gotX := waitFailed(t, client.ObjectKeyFromObject(x), includeCycleReason)
	g.Expect(conditions.IsStalled(gotX)).To(BeTrue())
	g.Expect(conditions.GetMessage(gotX, meta.ReadyCondition)).To(Equal("include cycle: x -> y -> x"))
	gotUp := waitFailed(t, client.ObjectKeyFromObject(up), illegalPathReason)
	g.Expect(conditions.IsStalled(gotUp)).To(BeTrue())
}
