package kustomization

import (
	"context"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// TestRunawayTransformStallsOnlyItsOwn: while a transform plugin spins in
// an endless loop inside one Kustomization's reconcile (its timeout is far
// off), Kustomizations without transforms, and one with another plugin on
// the same host, are applied as usual; the looping one is not.
func TestRunawayTransformStallsOnlyItsOwn(t *testing.T) {
	g := NewWithT(t)
	reg := prometheus.NewRegistry()
	host, err := wasm.NewHost(wasm.Options{CacheDir: t.TempDir(), Registerer: reg})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = host.Close(context.Background()) })
	catalog := wasm.NewCatalog()
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner), Plugins: catalog, Options: Options{Concurrent: 4}}
		return r.SetupWithManager(ctx, mgr)
	})
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:7777777777777777777777777777777777777777"
	a.publish(t, ns, "repo", rev, map[string]string{"a.yaml": cm("a")})

	plugins := map[string]struct {
		module []byte
		config map[string]any
	}{
		"runaway": {testenv.FixturePlugin(t), map[string]any{"mode": "loop"}},
		"labels":  {testenv.ExamplePlugin(t, "add-labels"), map[string]any{"team": "platform"}},
	}
	for name, p := range plugins {
		obj := testenv.Plugin(ns, name, "oci://registry.example.com/"+name+":v1", "keys", func(o *v1alpha1.Plugin) {
			o.Spec.Transform.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"transform": name}}
		})
		g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
		key := wasm.Key{Namespace: ns, Name: name}
		loaded, err := host.Load(ctx, wasm.Spec{Key: key, Wasm: p.module, Config: p.config,
			Limits: wasm.Limits{Timeout: 10 * time.Minute}})
		g.Expect(err).NotTo(HaveOccurred())
		catalog.Set(ctx, key, wasm.Entry{Plugin: loaded, Digest: "sha256:" + name})
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		obj.Status.Digest = "sha256:" + name
		conditions.MarkTrue(obj, meta.ReadyCondition, meta.SucceededReason, "serving")
		g.Expect(env.Client.Status().Update(ctx, obj)).To(Succeed())
	}

	ks := func(name, transform string) *kustomizev1.Kustomization {
		return testenv.Kustomization(ns, name, "repo", "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.NamePrefix = name + "-"
			if transform != "" {
				k.Labels = map[string]string{"transform": transform}
			}
		})
	}
	g.Expect(env.Client.Create(ctx, ks("spin", "runaway"))).To(Succeed())
	// The guest is running: its first instance is live and busy.
	g.Eventually(func() float64 {
		return liveInstances(t, reg, ns+"/runaway")
	}, 30*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 1))

	for _, k := range []*kustomizev1.Kustomization{ks("plain1", ""), ks("plain2", ""), ks("plain3", ""), ks("labelled", "labels")} {
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
	}
	spin := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "spin"}, spin)).To(Succeed())
	g.Expect(spin.Status.LastAppliedRevision).To(BeEmpty())
	g.Expect(liveInstances(t, reg, ns+"/runaway")).To(BeNumerically(">=", 1), "the runaway call ended")
}

// liveInstances reads the host's live instance gauge of one plugin.
func liveInstances(t *testing.T, reg *prometheus.Registry, plugin string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "weir_plugin_instances" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "plugin" && l.GetValue() == plugin {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
