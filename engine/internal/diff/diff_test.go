package diff_test

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/artifact"
	"github.com/weir-gitops/weir/engine/internal/controller/gitrepository"
	"github.com/weir-gitops/weir/engine/internal/controller/kustomization"
	"github.com/weir-gitops/weir/engine/internal/diff"
	sourcegit "github.com/weir-gitops/weir/engine/internal/source/git"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var (
	env    *testenv.Env
	update = flag.Bool("update", false, "rewrite the golden files in testdata/")
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	testenv.Main(m, &env)
}

const (
	settingsV1 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n  size: small\n"
	settingsV2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n  size: small\n"
	old        = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\ndata:\n  keep: \"no\"\n"
	added      = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: added\ndata:\n  hello: world\n"
	secretV1   = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: first-secret-value\n  user: admin\n"
	secretV2   = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: second-secret-value\n  user: admin\n"
	newSecret  = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\nstringData:\n  token: brand-new-secret-value\n"
)

// TestDiffKustomization applies a revision with the real stages from a real
// git server, suspends the Kustomization, pushes a second revision that the
// GitRepository stage archives, and diffs: a changed ConfigMap and Secret,
// a new ConfigMap and Secret, and a pruned ConfigMap, with Secret values
// masked, and nothing changed in the cluster.
func TestDiffKustomization(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	startStages(t)

	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	repo.Commit("first", map[string]string{"app/settings.yaml": settingsV1, "app/old.yaml": old, "app/creds.yaml": secretV1})
	g.Expect(env.Client.Create(ctx, testenv.GitRepository(ns, "app", git.URL("app")))).To(Succeed())
	ks := testenv.Kustomization(ns, "app", "app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	rev := waitApplied(t, ns)

	res := diffOf(t, ns)
	g.Expect(res.HasChanges()).To(BeFalse(), "the applied revision diffs clean: %+v", res.Changes)
	g.Expect(res.Unchanged).To(Equal(3))
	g.Expect(res.Revision).To(Equal(rev))

	// Stop the Kustomization stage from applying, then move the source.
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), ks)).To(Succeed())
	patch := client.MergeFrom(ks.DeepCopy())
	ks.Spec.Suspend = true
	g.Expect(env.Client.Patch(ctx, ks, patch)).To(Succeed())
	repo.Commit("second", map[string]string{"app/settings.yaml": settingsV2, "app/old.yaml": "", "app/added.yaml": added,
		"app/creds.yaml": secretV2, "app/token.yaml": newSecret})
	src := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, src)).To(Succeed())
	patch = client.MergeFrom(src.DeepCopy())
	src.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "second"}
	g.Expect(env.Client.Patch(ctx, src, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(src), src)).To(Succeed())
		g.Expect(src.Status.Artifact).NotTo(BeNil())
		g.Expect(src.Status.Artifact.Revision).NotTo(Equal(rev))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	res = diffOf(t, ns)
	g.Expect(res.HasChanges()).To(BeTrue())
	var out bytes.Buffer
	g.Expect(res.Write(&out)).To(Succeed())
	got := normalize(out.String(), ns)
	for _, secret := range []string{"first-secret-value", "second-secret-value", "brand-new-secret-value", "YWRtaW4="} {
		g.Expect(got).NotTo(ContainSubstring(secret), "Secret values are masked")
	}
	golden(t, "kustomization.diff", got)

	// A dry-run changes nothing.
	cm := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("color", "blue"))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "old"}, cm)).To(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "added"}, cm)).NotTo(Succeed())
}

// TestDiffCreatesNamespace diffs a Kustomization the stage never applied
// (it is suspended from the start) whose objects live in a namespace it
// creates: the dry-run of the namespaced object cannot run before its
// namespace exists, and both are reported as created.
func TestDiffCreatesNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	startStages(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "infra")
	extra := ns + "-extra"
	repo.Commit("first", map[string]string{
		"infra/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + extra + "\n",
		"infra/settings.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " + extra + "\ndata:\n  a: b\n",
	})
	g.Expect(env.Client.Create(ctx, testenv.GitRepository(ns, "app", git.URL("infra")))).To(Succeed())
	g.Expect(env.Client.Create(ctx, testenv.Kustomization(ns, "app", "app", "./infra",
		func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true }))).To(Succeed())
	g.Eventually(func(g Gomega) {
		src := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, src)).To(Succeed())
		g.Expect(src.Status.Artifact).NotTo(BeNil())
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	res := diffOf(t, ns)
	var got []string
	for _, c := range res.Changes {
		got = append(got, string(c.Action)+" "+c.ID)
	}
	g.Expect(got).To(Equal([]string{"created Namespace/" + extra, "created ConfigMap/" + extra + "/settings"}))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: extra}, &corev1.Namespace{})).NotTo(Succeed(), "a dry-run creates nothing")
}

// startStages runs the GitRepository and Kustomization stages, with the
// artifacts served over HTTP as the engine serves them.
func startStages(t *testing.T) {
	t.Helper()
	st := &artifact.Storage{Root: t.TempDir()}
	srv := httptest.NewServer(st.Handler())
	t.Cleanup(srv.Close)
	st.BaseURL = srv.URL
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		git := &gitrepository.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(gitrepository.FieldOwner),
			Fetcher: sourcegit.Client{}, Storage: st, Options: gitrepository.Options{ArtifactRetention: 2, TempDir: t.TempDir()}}
		if err := git.SetupWithManager(ctx, mgr); err != nil {
			return err
		}
		ks := &kustomization.Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(kustomization.FieldOwner)}
		return ks.SetupWithManager(ctx, mgr)
	})
}

func waitApplied(t *testing.T, ns string) string {
	t.Helper()
	ks := &kustomizev1.Kustomization{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, ks)).To(Succeed())
		g.Expect(conditions.IsReady(ks)).To(BeTrue(), "ready: %s", conditions.GetMessage(ks, meta.ReadyCondition))
		g.Expect(ks.Status.LastAppliedRevision).NotTo(BeEmpty())
	}, 60*time.Second, 100*time.Millisecond).Should(Succeed())
	return ks.Status.LastAppliedRevision
}

func diffOf(t *testing.T, ns string) *diff.Result {
	t.Helper()
	fetch, err := diff.NewFetcher(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := diff.Kustomization(ctx, ns, "app", diff.Options{Client: env.Client, Fetch: fetch})
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	return res
}

var revisionRE = regexp.MustCompile(`main@sha1:[0-9a-f]{40}`)

func normalize(s, ns string) string {
	return revisionRE.ReplaceAllString(strings.ReplaceAll(s, ns, "NAMESPACE"), "main@sha1:REVISION")
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", p, err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}
