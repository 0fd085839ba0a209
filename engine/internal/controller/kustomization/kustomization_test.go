package kustomization

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// artifacts serves tarballs by path, as a source's storage would, and
// counts the requests it serves.
type artifacts struct {
	mu    sync.Mutex
	files map[string][]byte
	srv   *httptest.Server
	hits  atomic.Int64
}

func newArtifacts(t testing.TB) *artifacts {
	a := &artifacts{files: map[string][]byte{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		a.mu.Lock()
		b, ok := a.files[r.URL.Path]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// publish stores a tarball of files and sets it as the GitRepository's
// artifact, creating the GitRepository when needed.
func (a *artifacts) publish(t testing.TB, ns, name, revision string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(files[n]))
	}
	_ = tw.Close()
	_ = zw.Close()
	a.publishTarball(t, ns, name, revision, buf.Bytes())
}

// publishTarball stores a tarball as it is and sets it as the
// GitRepository's artifact, creating the GitRepository when needed.
func (a *artifacts) publishTarball(t testing.TB, ns, name, revision string, tarball []byte) {
	t.Helper()
	digest := fmt.Sprintf("%x", sha256.Sum256(tarball))
	p := fmt.Sprintf("/gitrepository/%s/%s/%s.tar.gz", ns, name, digest)
	a.mu.Lock()
	a.files[p] = tarball
	a.mu.Unlock()

	ctx := context.Background()
	repo := &sourcev1.GitRepository{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, repo)
	if apierrors.IsNotFound(err) {
		repo = testenv.GitRepository(ns, name, "https://example.com/x.git")
		if err := env.Client.Create(ctx, repo); err != nil {
			t.Fatal(err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	size := int64(len(tarball))
	repo.Status.Artifact = &meta.Artifact{Path: p[1:], URL: a.srv.URL + p, Revision: revision,
		Digest: "sha256:" + digest, Size: &size, LastUpdateTime: metav1.Now()}
	if err := env.Client.Status().Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T) {
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner), Options: Options{Concurrent: 4}}
		return r.SetupWithManager(ctx, mgr)
	})
}

func cm(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n", name)
}

func waitApplied(t *testing.T, key client.ObjectKey, revision string) *kustomizev1.Kustomization {
	t.Helper()
	got := &kustomizev1.Kustomization{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), key, got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue(), "ready: %s", conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.LastAppliedRevision).To(Equal(revision))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	return got
}

func TestApplyPruneAndFollowSource(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns, target := env.Namespace(t), env.Namespace(t)
	ctx := context.Background()
	a.publish(t, ns, "repo", "main@sha1:1111111111111111111111111111111111111111",
		map[string]string{"deploy/a.yaml": cm("a"), "deploy/b.yaml": cm("b"), "deploy/.hidden/c.yaml": cm("c"), "other/d.yaml": cm("d")})
	k := testenv.Kustomization(ns, "app", "repo", "./deploy", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = target })
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())

	got := waitApplied(t, client.ObjectKeyFromObject(k), "main@sha1:1111111111111111111111111111111111111111")
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("Applied revision: main@sha1:1111111111111111111111111111111111111111"))
	g.Expect(got.Status.History).To(HaveLen(1))
	g.Expect(got.Status.History[0].Digest).To(HavePrefix("sha256:"))
	g.Expect(got.Status.History[0].LastReconciledStatus).To(Equal(meta.ReconciliationSucceededReason))
	g.Expect(got.Status.History[0].Metadata).To(HaveKeyWithValue("revision", "main@sha1:1111111111111111111111111111111111111111"))
	g.Expect(got.Status.Inventory.Entries).To(Equal([]kustomizev1.ResourceRef{
		{ID: target + "_a__ConfigMap", Version: "v1"}, {ID: target + "_b__ConfigMap", Version: "v1"},
	}))
	obj := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: "a"}, obj)).To(Succeed())
	g.Expect(obj.Labels).To(HaveKeyWithValue("kustomize.toolkit.fluxcd.io/name", "app"))
	managers := []string{}
	for _, mf := range obj.ManagedFields {
		managers = append(managers, mf.Manager)
	}
	g.Expect(managers).To(ContainElement("kustomize-controller"))
	g.Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: "c"}, &corev1.ConfigMap{}))).To(BeTrue())

	// Drift is corrected on the next reconcile.
	obj.Data = map[string]string{"k": "changed"}
	g.Expect(env.Client.Update(ctx, obj)).To(Succeed())

	// A new artifact without b is applied at once (no interval wait), and b is pruned.
	a.publish(t, ns, "repo", "main@sha1:2222222222222222222222222222222222222222", map[string]string{"deploy/a.yaml": cm("a")})
	got = waitApplied(t, client.ObjectKeyFromObject(k), "main@sha1:2222222222222222222222222222222222222222")
	g.Expect(got.Status.History).To(HaveLen(2), "a new build digest is a new snapshot")
	g.Expect(got.Status.History[0].Metadata).To(HaveKeyWithValue("revision", "main@sha1:2222222222222222222222222222222222222222"), "newest first")
	g.Eventually(func() bool {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: "b"}, &corev1.ConfigMap{})
		return apierrors.IsNotFound(err)
	}, 10*time.Second, 100*time.Millisecond).Should(BeTrue())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: "a"}, obj)).To(Succeed())
	g.Expect(obj.Data).To(HaveKeyWithValue("k", "v"))

	// Deleting the Kustomization garbage collects what it applied.
	g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
	g.Eventually(func() bool {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: target, Name: "a"}, &corev1.ConfigMap{})
		return apierrors.IsNotFound(err)
	}, 10*time.Second, 100*time.Millisecond).Should(BeTrue())
}

func TestDependsOnIsEventDriven(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:3333333333333333333333333333333333333333"
	// The dependent exists first; its dependency has no source yet.
	second := testenv.Kustomization(ns, "second", "repo2", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "first"}}
		k.Spec.RetryInterval = &metav1.Duration{Duration: 10 * time.Minute}
		k.Spec.TargetNamespace = ns
	})
	first := testenv.Kustomization(ns, "first", "repo1", "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	g.Expect(env.Client.Create(ctx, second)).To(Succeed())
	g.Expect(env.Client.Create(ctx, first)).To(Succeed())
	a.publish(t, ns, "repo2", rev, map[string]string{"two.yaml": cm("two")})
	g.Eventually(func() string {
		got := &kustomizev1.Kustomization{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(second), got)
		return conditions.GetReason(got, meta.ReadyCondition)
	}, 20*time.Second, 100*time.Millisecond).Should(Equal(meta.DependencyNotReadyReason))

	// With a 10 minute retry interval, only the watch can make this fast.
	a.publish(t, ns, "repo1", rev, map[string]string{"one.yaml": cm("one")})
	waitApplied(t, client.ObjectKeyFromObject(first), rev)
	waitApplied(t, client.ObjectKeyFromObject(second), rev)
}

// TestDependsOnSameSourceWaitsForRevision: on a new commit of a shared
// source, a dependent does not apply it before its dependency has, as in
// Flux; it follows once the dependency catches up.
func TestDependsOnSameSourceWaitsForRevision(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev1 := "main@sha1:" + strings.Repeat("1", 40)
	rev2 := "main@sha1:" + strings.Repeat("2", 40)
	a.publish(t, ns, "repo", rev1, map[string]string{"one/a.yaml": cm("one"), "two/a.yaml": cm("two")})
	first := testenv.Kustomization(ns, "first", "repo", "./one", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	second := testenv.Kustomization(ns, "second", "repo", "./two", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "first"}}
		k.Spec.RetryInterval = &metav1.Duration{Duration: 10 * time.Minute}
		k.Spec.TargetNamespace = ns
	})
	g.Expect(env.Client.Create(ctx, first)).To(Succeed())
	g.Expect(env.Client.Create(ctx, second)).To(Succeed())
	waitApplied(t, client.ObjectKeyFromObject(second), rev1)

	// The dependency is held back; the dependent must not run ahead.
	held := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(first), held)).To(Succeed())
	patch := client.MergeFrom(held.DeepCopy())
	held.Spec.Suspend = true
	g.Expect(env.Client.Patch(ctx, held, patch)).To(Succeed())
	// Suspending changed the generation; the dependency must look Ready
	// and current, only behind on the revision.
	held.Status.ObservedGeneration = held.Generation
	g.Expect(env.Client.Status().Update(ctx, held)).To(Succeed())
	a.publish(t, ns, "repo", rev2, map[string]string{"one/a.yaml": cm("one"), "two/a.yaml": cm("two")})
	g.Eventually(func() string {
		got := &kustomizev1.Kustomization{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(second), got)
		return conditions.GetMessage(got, meta.ReadyCondition)
	}, 20*time.Second, 100*time.Millisecond).Should(Equal("dependency '" + ns + "/first' revision is not up to date"))
	got := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(second), got)).To(Succeed())
	g.Expect(got.Status.LastAppliedRevision).To(Equal(rev1))

	// Resumed, the dependency applies rev2 and the dependent follows at
	// once (its retry interval is 10 minutes).
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(first), held)).To(Succeed())
	patch = client.MergeFrom(held.DeepCopy())
	held.Spec.Suspend = false
	g.Expect(env.Client.Patch(ctx, held, patch)).To(Succeed())
	waitApplied(t, client.ObjectKeyFromObject(first), rev2)
	waitApplied(t, client.ObjectKeyFromObject(second), rev2)
}

func TestArtifactAndBuildFailures(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	a.publish(t, ns, "repo", "main@sha1:4444444444444444444444444444444444444444",
		map[string]string{"bad/kustomization.yaml": "resources: [../../../etc]\n", "ok/a.yaml": cm("a")})
	tests := []struct {
		name, path, reason, msg string
		mutate                  func(*kustomizev1.Kustomization)
	}{
		{"missing-path", "./nope", meta.BuildFailedReason, "kustomization path not found", nil},
		{"escape", "./bad", meta.BuildFailedReason, "kustomize build failed", nil},
		{"missing-source", "./ok", meta.ArtifactFailedReason, "not found", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "absent" }},
		{"substitute-from-missing", "./ok", meta.BuildFailedReason, "substitute from 'ConfigMap/absent'", func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "absent"}}}
		}},
		{"bad-var-name", "./ok", meta.BuildFailedReason, "var name is invalid", func(k *kustomizev1.Kustomization) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"not-valid": "x"}}
		}},
		{"missing-component", "./ok", meta.BuildFailedReason, "component not found: ../nope", func(k *kustomizev1.Kustomization) {
			k.Spec.Components = []string{"../nope"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := testenv.Kustomization(ns, tt.name, "repo", tt.path, tt.mutate)
			NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
			NewWithT(t).Eventually(func(g Gomega) {
				got := &kustomizev1.Kustomization{}
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
				g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
				g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(tt.reason))
				g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(tt.msg))
				g.Expect(got.Status.Inventory).To(BeNil())
			}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		})
	}
}
