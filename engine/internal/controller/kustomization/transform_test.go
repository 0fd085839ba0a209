package kustomization

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// startWithPlugins runs the stage with a catalog the test fills itself, as
// the Plugin controller would after verification.
func startWithPlugins(t *testing.T) (*wasm.Catalog, *wasm.Host) {
	host, err := wasm.NewHost(wasm.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close(context.Background()) })
	catalog := wasm.NewCatalog()
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner), Plugins: catalog, Options: Options{Concurrent: 4}}
		return r.SetupWithManager(ctx, mgr)
	})
	return catalog, host
}

// serve loads module as Plugin ns/name into the catalog and marks the
// Plugin object Ready at digest.
func serve(t *testing.T, catalog *wasm.Catalog, host *wasm.Host, p *v1alpha1.Plugin, module []byte, config map[string]any, digest string) {
	t.Helper()
	ctx := context.Background()
	loaded, err := host.Load(ctx, wasm.Spec{Key: wasm.Key{Namespace: p.Namespace, Name: p.Name}, Wasm: module, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	catalog.Set(ctx, wasm.Key{Namespace: p.Namespace, Name: p.Name}, wasm.Entry{Plugin: loaded, Digest: digest})
	got := &v1alpha1.Plugin{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
		t.Fatal(err)
	}
	got.Status.Digest = digest
	conditions.MarkTrue(got, meta.ReadyCondition, meta.SucceededReason, "serving")
	if err := env.Client.Status().Update(ctx, got); err != nil {
		t.Fatal(err)
	}
}

func deploymentYAML(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: main
        image: %[2]s
`, name, image)
}

func TestTransformsShapeTheApply(t *testing.T) {
	g := NewWithT(t)
	catalog, host := startWithPlugins(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:5555555555555555555555555555555555555555"
	a.publish(t, ns, "repo", rev, map[string]string{"a.yaml": cm("a"), "b.yaml": cm("b")})

	// The Plugin exists before it serves: nothing is applied without it.
	labels := testenv.Plugin(ns, "labels", "oci://registry.example.com/add-labels:v1", "keys", func(p *v1alpha1.Plugin) {
		p.Spec.Transform.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "apps"}}
	})
	g.Expect(env.Client.Create(ctx, labels)).To(Succeed())
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Labels = map[string]string{"tier": "apps"}
		k.Spec.TargetNamespace = ns
	})
	other := testenv.Kustomization(ns, "other", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.NamePrefix = "other-"
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	g.Expect(env.Client.Create(ctx, other)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(PluginNotReadyReason))
		g.Expect(got.Status.Inventory).To(BeNil())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &corev1.ConfigMap{}))).To(BeTrue())

	// The Plugin turns Ready: the Kustomization applies at once (its retry
	// interval is minutes), with the plugin's labels.
	serve(t, catalog, host, labels, testenv.ExamplePlugin(t, "add-labels"), map[string]any{"team": "platform"}, "sha256:aaaa")
	got := waitApplied(t, client.ObjectKeyFromObject(k), rev)
	g.Expect(conditions.IsTrue(got, TransformedCondition)).To(BeTrue())
	g.Expect(conditions.GetMessage(got, TransformedCondition)).To(Equal(ns + "/labels@sha256:aaaa"))
	obj := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, obj)).To(Succeed())
	g.Expect(obj.Labels).To(HaveKeyWithValue("team", "platform"))
	g.Expect(obj.Labels).To(HaveKeyWithValue("kustomize.toolkit.fluxcd.io/name", "app"))

	// The Kustomization the selector does not match is left as built.
	otherGot := waitApplied(t, client.ObjectKeyFromObject(other), rev)
	g.Expect(conditions.Get(otherGot, TransformedCondition)).To(BeNil())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "other-a"}, obj)).To(Succeed())
	g.Expect(obj.Labels).NotTo(HaveKey("team"))
}

func TestPolicyTransformBlocksTheApply(t *testing.T) {
	g := NewWithT(t)
	catalog, host := startWithPlugins(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev1 := "main@sha1:6666666666666666666666666666666666666666"
	a.publish(t, ns, "repo", rev1, map[string]string{"a.yaml": cm("a"), "web.yaml": deploymentYAML("web", "nginx:1.27")})
	deny := testenv.Plugin(ns, "deny-latest", "oci://registry.example.com/deny-latest-tag:v1", "keys")
	g.Expect(env.Client.Create(ctx, deny)).To(Succeed())
	serve(t, catalog, host, deny, testenv.ExamplePlugin(t, "deny-latest-tag"), nil, "sha256:bbbb")
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Prune = true
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	waitApplied(t, client.ObjectKeyFromObject(k), rev1)

	// A revision with a floating tag, which also drops a.yaml: refused with
	// a readable status, nothing applied, nothing pruned.
	rev2 := "main@sha1:7777777777777777777777777777777777777777"
	a.publish(t, ns, "repo", rev2, map[string]string{"web.yaml": deploymentYAML("web", "nginx:latest")})
	g.Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(TransformFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(
			`transform plugin '` + ns + `/deny-latest' refused the revision: Deployment/` + ns + `/web: container "main" uses image "nginx:latest"`))
		g.Expect(got.Status.LastAttemptedRevision).To(Equal(rev2))
		g.Expect(got.Status.LastAppliedRevision).To(Equal(rev1))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &corev1.ConfigMap{})).To(Succeed(), "nothing pruned")
	var d unstructured.Unstructured
	d.SetAPIVersion("apps/v1")
	d.SetKind("Deployment")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d)).To(Succeed())
	img, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	g.Expect(img[0].(map[string]any)["image"]).To(Equal("nginx:1.27"), "nothing applied")
}

func TestDeletionGuard(t *testing.T) {
	objs := func(names ...string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, n := range names {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("ConfigMap")
			u.SetName(n)
			out = append(out, u)
		}
		return out
	}
	in := objs("a", "b", "c", "d")
	tests := []struct {
		name string
		tp   v1alpha1.TransformPoint
		out  []*unstructured.Unstructured
		err  string
	}{
		{"keeps all", v1alpha1.TransformPoint{}, objs("a", "b", "c", "d"), ""},
		{"adds one", v1alpha1.TransformPoint{}, objs("a", "b", "c", "d", "e"), ""},
		{"drops one by default", v1alpha1.TransformPoint{}, objs("a", "b", "c"), "removed 1 of 4 objects, more than maxDeletionPercent 0%"},
		{"drops one within the share", v1alpha1.TransformPoint{MaxDeletionPercent: 25}, objs("a", "b", "c"), ""},
		{"drops two over the share", v1alpha1.TransformPoint{MaxDeletionPercent: 25}, objs("a", "b"), "removed 2 of 4"},
		{"drops all even with a share", v1alpha1.TransformPoint{MaxDeletionPercent: 100}, nil, "removed all 4 objects"},
		{"drops all when allowed", v1alpha1.TransformPoint{AllowDeletion: true}, nil, ""},
		{"renames count as removals", v1alpha1.TransformPoint{}, objs("a", "b", "c", "x"), "removed 1 of 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := deletionGuard(&tt.tp, in, tt.out)
			if tt.err == "" {
				NewWithT(t).Expect(err).NotTo(HaveOccurred())
				return
			}
			NewWithT(t).Expect(err).To(MatchError(ContainSubstring(tt.err)))
		})
	}
}
