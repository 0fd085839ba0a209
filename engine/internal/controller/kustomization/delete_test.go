package kustomization

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// startWith runs the controller with opts.
func startWith(t *testing.T, opts Options) {
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		opts.Concurrent = 4
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner), Options: opts}
		return r.SetupWithManager(ctx, mgr)
	})
}

// annotatedCM is a ConfigMap manifest with one annotation.
func annotatedCM(name, key, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations:\n    %s: %s\ndata:\n  k: v\n", name, key, value)
}

// heldCM is a ConfigMap manifest with a finalizer nothing removes but the
// test, so its deletion stays pending.
func heldCM(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  finalizers: [weir.dev/test-hold]\ndata:\n  k: v\n", name)
}

// release removes the finalizers of a ConfigMap.
func release(t *testing.T, key client.ObjectKey) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		obj := &corev1.ConfigMap{}
		if err := env.Client.Get(context.Background(), key, obj); err != nil {
			return client.IgnoreNotFound(err)
		}
		obj.Finalizers = nil
		return env.Client.Update(context.Background(), obj)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

func exists(g Gomega, key client.ObjectKey, obj client.Object) bool {
	err := env.Client.Get(context.Background(), key, obj)
	g.Expect(client.IgnoreNotFound(err)).To(Succeed())
	return err == nil
}

func waitGone(t *testing.T, key client.ObjectKey, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(context.Background(), key, obj))
	}, 20*time.Second, 100*time.Millisecond).Should(BeTrue(), "%s still exists", key)
}

func TestDeletionPolicies(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:5151515151515151515151515151515151515151"
	a.publish(t, ns, "repo", rev, map[string]string{
		"a.yaml": cm("a"), "keep.yaml": annotatedCM("keep", apply.PrunePolicy, "disabled"),
	})
	tests := []struct {
		name, policy string
		prune        bool
		deletes      bool
	}{
		{"default-mirrors-prune", "", true, true},
		{"default-mirrors-no-prune", "", false, false},
		{"mirror-prune", kustomizev1.DeletionPolicyMirrorPrune, true, true},
		{"delete-without-prune", kustomizev1.DeletionPolicyDelete, false, true},
		{"orphan-with-prune", kustomizev1.DeletionPolicyOrphan, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			k := testenv.Kustomization(ns, tt.name, "repo", "./", func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace, k.Spec.NamePrefix = ns, tt.name+"-"
				k.Spec.Prune, k.Spec.DeletionPolicy = tt.prune, tt.policy
			})
			g.Expect(env.Client.Create(ctx, k)).To(Succeed())
			waitApplied(t, client.ObjectKeyFromObject(k), rev)
			g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
			waitGone(t, client.ObjectKeyFromObject(k), &kustomizev1.Kustomization{})

			applied := client.ObjectKey{Namespace: ns, Name: tt.name + "-a"}
			if tt.deletes {
				waitGone(t, applied, &corev1.ConfigMap{})
			} else {
				g.Expect(exists(g, applied, &corev1.ConfigMap{})).To(BeTrue(), "orphaned objects stay")
			}
			// prune: disabled is never deleted, whatever the policy.
			g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: tt.name + "-keep"}, &corev1.ConfigMap{})).To(BeTrue())
		})
	}
}

func TestDeletionPolicyWaitForTermination(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:5252525252525252525252525252525252525252"
	a.publish(t, ns, "repo", rev, map[string]string{"held.yaml": heldCM("held"), "a.yaml": cm("a")})
	create := func(t *testing.T, name string, timeout time.Duration) *kustomizev1.Kustomization {
		k := testenv.Kustomization(ns, name, "repo", "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace, k.Spec.NamePrefix = ns, name+"-"
			k.Spec.DeletionPolicy = kustomizev1.DeletionPolicyWaitForTermination
			k.Spec.Prune = false // the policy deletes regardless
			k.Spec.Timeout = &metav1.Duration{Duration: timeout}
		})
		NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
		NewWithT(t).Expect(env.Client.Delete(ctx, k)).To(Succeed())
		return k
	}

	t.Run("the finalizer stays until the objects are gone", func(t *testing.T) {
		g := NewWithT(t)
		// The timeout is far away: only the watch on the terminating
		// object can end the wait promptly.
		k := create(t, "waits", 10*time.Minute)
		held := client.ObjectKey{Namespace: ns, Name: "waits-held"}
		t.Cleanup(func() { release(t, held) })
		g.Eventually(func(g Gomega) {
			obj := &corev1.ConfigMap{}
			g.Expect(env.Client.Get(ctx, held, obj)).To(Succeed())
			g.Expect(obj.DeletionTimestamp).NotTo(BeNil())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		waitGone(t, client.ObjectKey{Namespace: ns, Name: "waits-a"}, &corev1.ConfigMap{})
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(got.Finalizers).To(ContainElement(finalizer))

		release(t, held)
		waitGone(t, client.ObjectKeyFromObject(k), &kustomizev1.Kustomization{})
	})

	t.Run("the wait gives up after spec.timeout", func(t *testing.T) {
		g := NewWithT(t)
		// spec.timeout is at least 30 s: rather than wait that long, judge
		// a Kustomization whose deletion began an hour ago.
		k := create(t, "gives-up", time.Minute)
		held := client.ObjectKey{Namespace: ns, Name: "gives-up-held"}
		t.Cleanup(func() { release(t, held) })
		g.Eventually(func(g Gomega) {
			obj := &corev1.ConfigMap{}
			g.Expect(env.Client.Get(ctx, held, obj)).To(Succeed())
			g.Expect(obj.DeletionTimestamp).NotTo(BeNil())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), k)).To(Succeed())
		k.DeletionTimestamp = &metav1.Time{Time: time.Now().Add(-time.Hour)}
		rec := record.NewFakeRecorder(10)
		r := &Reconciler{Recorder: rec, waits: apply.NewWaits[*waitState]()}
		c := &apply.Cluster{Reader: env.Client} // not local: no watches needed
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		u.SetNamespace(ns)
		u.SetName(held.Name)
		res, err := r.awaitTermination(ctx, k, c, []*unstructured.Unstructured{u})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.IsZero()).To(BeTrue(), "the finalizer may go")
		g.Expect(rec.Events).To(Receive(ContainSubstring(
			"failed to wait for resources termination: timeout after 1m0s waiting for: [ConfigMap/" + ns + "/gives-up-held]")))
	})
}
