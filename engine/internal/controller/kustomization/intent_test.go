package kustomization

import (
	"context"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// TestInventoryRecordsIntentBeforeApply applies a revision that fails half
// way: its Namespace is created in the first stage, its Service is refused
// by the API server. The Namespace must be in the inventory although the
// apply failed, so deleting the Kustomization removes it: nothing a partial
// apply (or a crash after it) created is orphaned.
func TestInventoryRecordsIntentBeforeApply(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	created := ns + "-made"
	a.publish(t, ns, "repo", "main@sha1:3434343434343434343434343434343434343434", map[string]string{
		"ns.yaml":  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + created + "\n",
		"svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: broken\n  namespace: " + created + "\nspec:\n  ports:\n  - port: 0\n",
	})
	k := testenv.Kustomization(ns, "half", "repo", "./", func(k *kustomizev1.Kustomization) { k.Spec.Prune = true })
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(meta.ReconciliationFailedReason))
		g.Expect(got.Status.Inventory).NotTo(BeNil())
		ids := []string{}
		for _, e := range got.Status.Inventory.Entries {
			ids = append(ids, e.ID)
		}
		g.Expect(ids).To(ContainElement("_" + created + "__Namespace"))
		g.Expect(got.Status.LastAppliedRevision).To(BeEmpty(), "a failed apply is not counted as applied")
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: created}, &corev1.Namespace{})).To(Succeed(), "the first stage was applied")

	g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
	g.Eventually(func(g Gomega) {
		n := &corev1.Namespace{}
		err := env.Client.Get(ctx, client.ObjectKey{Name: created}, n)
		if apierrors.IsNotFound(err) {
			return
		}
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(n.DeletionTimestamp).NotTo(BeNil(), "the partially applied Namespace is deleted with the Kustomization")
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
