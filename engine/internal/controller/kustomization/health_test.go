package kustomization

import (
	"context"
	"fmt"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// markAvailable plays the Deployment controller: the rollout is complete.
func markAvailable(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	if err := env.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func readyReason(g Gomega, key client.ObjectKey) (*kustomizev1.Kustomization, string) {
	got := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(context.Background(), key, got)).To(Succeed())
	return got, conditions.GetReason(got, meta.ReadyCondition)
}

func TestWaitIsDrivenByWatches(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:9999999999999999999999999999999999999999"
	a.publish(t, ns, "repo", rev, map[string]string{"web.yaml": deploymentYAML("web", "nginx:1.27"), "cm.yaml": cm("settings")})
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	key := client.ObjectKeyFromObject(k)
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.ProgressingReason))
		g.Expect(conditions.IsUnknown(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("Running health checks for revision " + rev + " with a timeout of 10m0s"))
		g.Expect(conditions.IsReconciling(got)).To(BeTrue())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())

	// The safety requeue is 10 minutes away: only the watch on the
	// Deployment can make this prompt.
	markAvailable(t, ns, "web")
	got := waitApplied(t, key, rev)
	g.Expect(conditions.IsTrue(got, meta.HealthyCondition)).To(BeTrue())
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("Applied revision: " + rev))
	g.Expect(conditions.IsReconciling(got)).To(BeFalse())
}

// markStalled plays the Deployment controller: the rollout passed its
// progress deadline, which kstatus calls Failed.
func markStalled(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out progressing."}}}
	if err := env.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func TestWaitFailureAndHealthChecks(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:abababababababababababababababababababab"
	a.publish(t, ns, "repo", rev, map[string]string{"web.yaml": deploymentYAML("stuck", "nginx:1.27")})
	t.Run("a failed object fails at once", func(t *testing.T) {
		g := NewWithT(t)
		k := testenv.Kustomization(ns, "failing", "repo", "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.NamePrefix = "failing-"
			k.Spec.Wait = true
			k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
		})
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		g.Eventually(func(g Gomega) {
			_, reason := readyReason(g, client.ObjectKeyFromObject(k))
			g.Expect(reason).To(Equal(meta.ProgressingReason))
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		markStalled(t, ns, "failing-stuck")
		g.Eventually(func(g Gomega) {
			got, reason := readyReason(g, client.ObjectKeyFromObject(k))
			g.Expect(reason).To(Equal(meta.HealthCheckFailedReason))
			g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("failed: [Deployment/" + ns + "/failing-stuck: Progress deadline exceeded"))
			g.Expect(conditions.IsFalse(got, meta.HealthyCondition)).To(BeTrue())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	})
	t.Run("healthChecks on an object applied elsewhere", func(t *testing.T) {
		g := NewWithT(t)
		k := testenv.Kustomization(ns, "checks", "repo", "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
			k.Spec.HealthChecks = []meta.NamespacedObjectKindReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "stuck", Namespace: ns}}
		})
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		g.Eventually(func(g Gomega) {
			_, reason := readyReason(g, client.ObjectKeyFromObject(k))
			g.Expect(reason).To(Equal(meta.ProgressingReason))
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		markAvailable(t, ns, "stuck")
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
	})
}

// TestWaitTimeout uses Flux's smallest timeout, 30 s; it runs in parallel
// with the other slow tests.
func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	a.publish(t, ns, "repo", "main@sha1:efefefefefefefefefefefefefefefefefefefef", map[string]string{"web.yaml": deploymentYAML("never", "nginx:1.27")})
	k := testenv.Kustomization(ns, "timeout", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: time.Second} // raised to 30s by Flux's rule
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got, _ := readyReason(g, client.ObjectKeyFromObject(k))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("with a timeout of 30s"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, client.ObjectKeyFromObject(k))
		g.Expect(reason).To(Equal(meta.HealthCheckFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("timeout waiting for: [Deployment/" + ns + "/never: InProgress"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

func widget(name string) string {
	return fmt.Sprintf("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: %s\nspec:\n  size: 3\n", name)
}

func setPhase(t *testing.T, ns, name, phase, message string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("example.com/v1")
	u.SetKind("Widget")
	ctx := context.Background()
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(u.Object, map[string]any{"phase": phase, "message": message}, "status")
	if err := env.Client.Status().Update(ctx, u); err != nil {
		t.Fatal(err)
	}
}

func TestHealthPluginGatesReady(t *testing.T) {
	g := NewWithT(t)
	catalog, host := startWithPlugins(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	a.publish(t, ns, "repo", rev, map[string]string{"crd.yaml": widgetCRD, "w.yaml": widget("big"), "w2.yaml": widget("small")})
	hp := testenv.Plugin(ns, "phases", "oci://registry.example.com/phase-health:v1", "keys", func(p *v1alpha1.Plugin) {
		p.Spec.Transform = nil
		p.Spec.Health = &v1alpha1.HealthPoint{Kinds: []v1alpha1.KindReference{{APIVersion: "example.com/v1", Kind: "Widget"}}}
	})
	g.Expect(env.Client.Create(ctx, hp)).To(Succeed())
	serve(t, catalog, host, hp, testenv.ExamplePlugin(t, "phase-health"), nil, "sha256:cccc")
	k := testenv.Kustomization(ns, "widgets", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	key := client.ObjectKeyFromObject(k)
	// Without the plugin, kstatus would call a Widget without conditions
	// Current at once; the plugin waits for status.phase.
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.ProgressingReason))
		g.Expect(got.Status.Inventory).NotTo(BeNil())
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	setPhase(t, ns, "big", "Running", "")
	g.Consistently(func(g Gomega) {
		_, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.ProgressingReason))
	}, time.Second, 100*time.Millisecond).Should(Succeed(), "one widget still has no phase")
	setPhase(t, ns, "small", "Ready", "")
	got := waitApplied(t, key, rev)
	g.Expect(conditions.IsTrue(got, meta.HealthyCondition)).To(BeTrue())

	// A failed phase turns Healthy False with the plugin's message, on the
	// next reconcile.
	setPhase(t, ns, "small", "Error", "disk full")
	patch := client.MergeFrom(got.DeepCopy())
	got.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "after-failure"}
	g.Expect(env.Client.Patch(ctx, got, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.HealthCheckFailedReason))
		g.Expect(conditions.GetMessage(got, meta.HealthyCondition)).To(ContainSubstring("Widget/" + ns + "/small: disk full"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

// TestHealthCheckExprsGateReady: a kind with healthCheckExprs is judged by
// the expressions on the whole object, next to a Deployment that kstatus
// judges from its cached verdict, and both resolve by watch events.
func TestHealthCheckExprsGateReady(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:cececececececececececececececececececece"
	a.publish(t, ns, "repo", rev, map[string]string{"crd.yaml": widgetCRD, "w.yaml": widget("big"),
		"web.yaml": deploymentYAML("web", "nginx:1.27")})
	k := testenv.Kustomization(ns, "cel", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 10 * time.Minute}
		k.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: "example.com/v1", Kind: "Widget",
			HealthCheckExpressions: kustomize.HealthCheckExpressions{
				Current: "status.phase == 'Ready'", Failed: "status.phase == 'Error'"}}}
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	key := client.ObjectKeyFromObject(k)
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.ProgressingReason), conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.Inventory).NotTo(BeNil())
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	// Without the expressions, kstatus would call a Widget without
	// conditions Current at once. As in Flux, an expression on a field not
	// set yet keeps the wait going.
	g.Eventually(func(g Gomega) {
		got, _ := readyReason(g, key)
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("Running health checks for revision " + rev + " with a timeout of 10m0s"))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	markAvailable(t, ns, "web")
	setPhase(t, ns, "big", "Running", "")
	g.Consistently(func(g Gomega) {
		_, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.ProgressingReason))
	}, time.Second, 100*time.Millisecond).Should(Succeed(), "the widget is not Ready yet")
	// The safety requeue is 10 minutes away: only the watch on the widget
	// can make this prompt.
	setPhase(t, ns, "big", "Ready", "")
	got := waitApplied(t, key, rev)
	g.Expect(conditions.IsTrue(got, meta.HealthyCondition)).To(BeTrue())

	setPhase(t, ns, "big", "Error", "")
	patch := client.MergeFrom(got.DeepCopy())
	got.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "after-failure"}
	g.Expect(env.Client.Patch(ctx, got, patch)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, key)
		g.Expect(reason).To(Equal(meta.HealthCheckFailedReason))
		g.Expect(conditions.GetMessage(got, meta.HealthyCondition)).To(ContainSubstring("Widget/" + ns + "/big"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
