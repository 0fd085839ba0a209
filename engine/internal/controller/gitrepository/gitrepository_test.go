package gitrepository

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/artifact"
	sourcegit "github.com/weir-gitops/weir/engine/internal/source/git"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

type fixture struct {
	storage *artifact.Storage
	files   *httptest.Server
	// work is where checkouts are made.
	work string
}

// start runs the controller for the test; opts change the reconciler.
func start(t *testing.T, opts ...func(*Reconciler)) *fixture {
	t.Helper()
	st := &artifact.Storage{Root: t.TempDir()}
	srv := httptest.NewServer(st.Handler())
	t.Cleanup(srv.Close)
	st.BaseURL = srv.URL
	work := t.TempDir()
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner),
			Fetcher: sourcegit.Client{}, Storage: st, Options: Options{ArtifactRetention: 2, TempDir: work}}
		for _, o := range opts {
			o(r)
		}
		return r.SetupWithManager(ctx, mgr)
	})
	return &fixture{storage: st, files: srv, work: work}
}

func waitReady(t *testing.T, key client.ObjectKey, revision string) *sourcev1.GitRepository {
	t.Helper()
	got := &sourcev1.GitRepository{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), key, got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue(), "ready: %s", conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.Artifact).NotTo(BeNil())
		g.Expect(got.Status.Artifact.Revision).To(Equal(revision))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
	return got
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requestReconcile(t *testing.T, key client.ObjectKey, value string) {
	t.Helper()
	o := &sourcev1.GitRepository{}
	if err := env.Client.Get(context.Background(), key, o); err != nil {
		t.Fatal(err)
	}
	p := client.MergeFrom(o.DeepCopy())
	o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: value}
	if err := env.Client.Patch(context.Background(), o, p); err != nil {
		t.Fatal(err)
	}
}

func TestBranchArtifactServedAndUpdated(t *testing.T) {
	g := NewWithT(t)
	f := start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	sha := repo.Commit("first", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n", "logo.png": "binary", ".github/workflows/ci.yaml": "x"})
	ns := env.Namespace(t)
	obj := testenv.GitRepository(ns, "app", git.URL("app"))
	g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	key := client.ObjectKeyFromObject(obj)

	got := waitReady(t, key, "main@sha1:"+sha)
	a := got.Status.Artifact
	body := fetch(t, a.URL)
	g.Expect(a.Digest).To(Equal(fmt.Sprintf("sha256:%x", sha256.Sum256(body))))
	g.Expect(*a.Size).To(Equal(int64(len(body))))
	g.Expect(a.Path).To(Equal(fmt.Sprintf("gitrepository/%s/app/%s.tar.gz", ns, a.Digest[len("sha256:"):])))
	g.Expect(conditions.IsTrue(got, sourcev1.ArtifactInStorageCondition)).To(BeTrue())
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("stored artifact for revision 'main@sha1:" + sha + "'"))
	names := testenv.TarNames(t, body)
	g.Expect(names).To(ContainElement("deploy/cm.yaml"))
	g.Expect(names).NotTo(ContainElement("logo.png"))
	g.Expect(names).NotTo(ContainElement(HavePrefix(".github")))
	g.Expect(names).NotTo(ContainElement(HavePrefix(".git/")))

	// Unchanged remote: the request is handled with one ls-remote round
	// trip, no fetch and no new artifact.
	served := len(git.Requests())
	requestReconcile(t, key, "same")
	g.Eventually(func() string {
		o := &sourcev1.GitRepository{}
		_ = env.Client.Get(context.Background(), key, o)
		return o.Status.LastHandledReconcileAt
	}, 20*time.Second, 100*time.Millisecond).Should(Equal("same"))
	again := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(context.Background(), key, again)).To(Succeed())
	g.Expect(again.Status.Artifact.Digest).To(Equal(a.Digest))
	g.Expect(again.Status.Artifact.LastUpdateTime.Equal(&a.LastUpdateTime)).To(BeTrue())
	check := git.Requests()[served:]
	g.Expect(check).To(HaveLen(1))
	g.Expect(check[0].Method).To(Equal(http.MethodGet))
	g.Expect(check[0].Path).To(HaveSuffix("/info/refs"))

	// A new commit gives a new revision and digest; the old artifact is kept
	// (retention 2) until it falls out of the window.
	sha2 := repo.Commit("second", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\nmetadata: {name: x}\n"})
	requestReconcile(t, key, "new")
	got2 := waitReady(t, key, "main@sha1:"+sha2)
	g.Expect(got2.Status.Artifact.Digest).NotTo(Equal(a.Digest))
	g.Expect(f.storage.Has(a)).To(BeTrue())

	// Deleting the object removes its artifacts.
	g.Expect(env.Client.Delete(context.Background(), got2)).To(Succeed())
	g.Eventually(func() bool { return f.storage.Has(got2.Status.Artifact) }, 20*time.Second, 100*time.Millisecond).Should(BeFalse())
}

func TestRefKinds(t *testing.T) {
	start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "refs")
	c1 := repo.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	repo.Tag("v1.0.0")
	c2 := repo.Commit("two", map[string]string{"a.yaml": "a: 2\n"})
	repo.Git("tag", "-a", "v1.2.0", "-m", "annotated")
	repo.Git("push", "--quiet", "origin", "v1.2.0")
	repo.Tag("v2.0.0-rc.1")
	repo.Git("checkout", "--quiet", "-b", "dev")
	c3 := repo.Commit("three", map[string]string{"a.yaml": "a: 3\n"})
	ns := env.Namespace(t)
	tests := []struct {
		name string
		ref  sourcev1.GitRepositoryRef
		want string
	}{
		{"branch", sourcev1.GitRepositoryRef{Branch: "dev"}, "dev@sha1:" + c3},
		{"tag", sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1},
		{"annotated-tag", sourcev1.GitRepositoryRef{Tag: "v1.2.0"}, "v1.2.0@sha1:" + c2},
		{"semver", sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, "v1.2.0@sha1:" + c2},
		{"tag-over-branch", sourcev1.GitRepositoryRef{Branch: "dev", Tag: "v1.0.0"}, "v1.0.0@sha1:" + c1},
		{"name", sourcev1.GitRepositoryRef{Name: "refs/heads/dev"}, "refs/heads/dev@sha1:" + c3},
		{"commit", sourcev1.GitRepositoryRef{Commit: c1}, "sha1:" + c1},
		{"commit-on-branch", sourcev1.GitRepositoryRef{Branch: "main", Commit: c1}, "main@sha1:" + c1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := tt.ref
			obj := testenv.GitRepository(ns, tt.name, git.URL("refs"), func(o *sourcev1.GitRepository) { o.Spec.Reference = &ref })
			NewWithT(t).Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
			waitReady(t, client.ObjectKeyFromObject(obj), tt.want)
		})
	}
}

func TestFetchFailures(t *testing.T) {
	start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "f")
	repo.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	ns := env.Namespace(t)
	ctx := context.Background()
	NewWithT(t).Expect(env.Client.Create(ctx, testenv.Secret(ns, "creds", map[string]string{"username": "u", "password": "hunter2-secret"}))).To(Succeed())
	tests := []struct {
		name   string
		url    string
		mutate func(*sourcev1.GitRepository)
		reason string
		msg    string
	}{
		{"missing-branch", git.URL("f"), func(o *sourcev1.GitRepository) { o.Spec.Reference.Branch = "nope" }, sourcev1.GitOperationFailedReason, "couldn't find remote ref 'refs/heads/nope'"},
		{"missing-repo", git.URL("absent"), nil, sourcev1.GitOperationFailedReason, "unable to list references"},
		{"missing-secret", git.URL("f"), func(o *sourcev1.GitRepository) { o.Spec.SecretRef = &meta.LocalObjectReference{Name: "absent"} }, sourcev1.AuthenticationFailedReason, "failed to get secret"},
		{"credentials-in-url", "http://u:hunter2-secret@127.0.0.1:1/x.git", func(o *sourcev1.GitRepository) { o.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"} }, sourcev1.GitOperationFailedReason, "unable to list references"},
		{"sparse-checkout-missing-dir", git.URL("f"), func(o *sourcev1.GitRepository) { o.Spec.SparseCheckout = []string{"deploy"} }, sourcev1.GitOperationFailedReason, "sparse checkout dir 'deploy' does not exist in repository"},
		{"semver-no-match", git.URL("f"), func(o *sourcev1.GitRepository) { o.Spec.Reference = &sourcev1.GitRepositoryRef{SemVer: ">=9.0.0"} }, sourcev1.GitOperationFailedReason, "no match found for semver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, tt.name, tt.url, func(o *sourcev1.GitRepository) {
				if tt.mutate != nil {
					tt.mutate(o)
				}
			})
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			g.Eventually(func(g Gomega) {
				got := &sourcev1.GitRepository{}
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
				g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
				g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(tt.reason))
				g.Expect(conditions.IsTrue(got, sourcev1.FetchFailedCondition)).To(BeTrue())
				msg := conditions.GetMessage(got, meta.ReadyCondition)
				g.Expect(msg).To(ContainSubstring(tt.msg))
				g.Expect(msg).NotTo(ContainSubstring("hunter2"))
				g.Expect(got.Status.Artifact).To(BeNil())
			}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
		})
	}
}
