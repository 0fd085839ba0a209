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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func cmData(name, value string, annotations ...string) string {
	s := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n", name)
	if len(annotations) > 0 {
		s += "  annotations:\n"
		for i := 0; i+1 < len(annotations); i += 2 {
			s += fmt.Sprintf("    %s: %s\n", annotations[i], annotations[i+1])
		}
	}
	return s + fmt.Sprintf("data:\n  k: %s\n", value)
}

func getCM(t *testing.T, ns, name string) *corev1.ConfigMap {
	t.Helper()
	obj := &corev1.ConfigMap{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// edit changes a ConfigMap as another tool would, with its own field manager.
func edit(t *testing.T, ns, name, manager string, f func(*corev1.ConfigMap)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		obj := getCM(t, ns, name)
		f(obj)
		return env.Client.Update(context.Background(), obj, client.FieldOwner(manager))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestPerObjectPolicies(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	// Objects kubectl made before the Kustomization takes them over.
	for _, name := range []string{"merged", "overridden"} {
		obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"k": "v", "extra": "x"}}
		g.Expect(env.Client.Create(ctx, obj, client.FieldOwner("kubectl"))).To(Succeed())
	}
	rev1 := "main@sha1:6161616161616161616161616161616161616161"
	a.publish(t, ns, "repo", rev1, map[string]string{
		"ignored.yaml":        cmData("ignored", "v", apply.SSAPolicy, kustomizev1.IgnoreValue),
		"if-not-present.yaml": cmData("if-not-present", "v", apply.SSAPolicy, kustomizev1.IfNotPresentValue),
		"merged.yaml":         cmData("merged", "v", apply.SSAPolicy, kustomizev1.MergeValue),
		"overridden.yaml":     cmData("overridden", "v"),
		"frozen.yaml":         cmData("frozen", "v"),
		"unpruned.yaml":       cmData("unpruned", "v", apply.PrunePolicy, kustomizev1.DisabledValue),
		"pruned.yaml":         cmData("pruned", "v"),
	})
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Wait = true // skipped objects are not waited on
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	waitApplied(t, client.ObjectKeyFromObject(k), rev1)

	g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "ignored"}, &corev1.ConfigMap{})).To(BeFalse(), "ssa: Ignore is never applied")
	// ssa: Merge keeps what other managers set; the default takes it over.
	g.Expect(getCM(t, ns, "merged").Data).To(Equal(map[string]string{"k": "v", "extra": "x"}))
	g.Expect(getCM(t, ns, "overridden").Data).To(Equal(map[string]string{"k": "v"}))

	edit(t, ns, "if-not-present", "kubectl", func(o *corev1.ConfigMap) { o.Data["k"] = "edited" })
	edit(t, ns, "frozen", "kubectl", func(o *corev1.ConfigMap) {
		o.Data["k"] = "edited"
		o.Annotations = map[string]string{apply.ReconcilePolicy: kustomizev1.DisabledValue}
	})
	rev2 := "main@sha1:6262626262626262626262626262626262626262"
	a.publish(t, ns, "repo", rev2, map[string]string{
		"ignored.yaml":        cmData("ignored", "v2", apply.SSAPolicy, kustomizev1.IgnoreValue),
		"if-not-present.yaml": cmData("if-not-present", "v2", apply.SSAPolicy, kustomizev1.IfNotPresentValue),
		"merged.yaml":         cmData("merged", "v2", apply.SSAPolicy, kustomizev1.MergeValue),
		"overridden.yaml":     cmData("overridden", "v2"),
		"frozen.yaml":         cmData("frozen", "v2"),
	})
	waitApplied(t, client.ObjectKeyFromObject(k), rev2)
	g.Expect(getCM(t, ns, "if-not-present").Data).To(HaveKeyWithValue("k", "edited"), "ssa: IfNotPresent is only created")
	g.Expect(getCM(t, ns, "frozen").Data).To(HaveKeyWithValue("k", "edited"), "reconcile: disabled is left alone")
	g.Expect(getCM(t, ns, "merged").Data).To(Equal(map[string]string{"k": "v2", "extra": "x"}))
	g.Expect(getCM(t, ns, "overridden").Data).To(Equal(map[string]string{"k": "v2"}))
	waitGone(t, client.ObjectKey{Namespace: ns, Name: "pruned"}, &corev1.ConfigMap{})
	g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "unpruned"}, &corev1.ConfigMap{})).To(BeTrue(), "prune: disabled is never pruned")

	// reconcile: disabled is not deleted either.
	rev3 := "main@sha1:6363636363636363636363636363636363636363"
	a.publish(t, ns, "repo", rev3, map[string]string{"overridden.yaml": cmData("overridden", "v3")})
	waitApplied(t, client.ObjectKeyFromObject(k), rev3)
	waitGone(t, client.ObjectKey{Namespace: ns, Name: "merged"}, &corev1.ConfigMap{})
	g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "frozen"}, &corev1.ConfigMap{})).To(BeTrue())
}

func jobYAML(name, image string, annotations ...string) string {
	ann := ""
	if len(annotations) == 2 {
		ann = fmt.Sprintf("  annotations:\n    %s: %s\n", annotations[0], annotations[1])
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
%sspec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: %s
`, name, ann, image)
}

func serviceYAML(name, clusterIP string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  clusterIP: %s
  ports:
  - port: 80
`, name, clusterIP)
}

func TestForceRecreatesOnImmutableChanges(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev1 := "main@sha1:7171717171717171717171717171717171717171"
	a.publish(t, ns, "repo", rev1, map[string]string{
		"annotated/job.yaml": jobYAML("annotated", "busybox:1", apply.ForcePolicy, kustomizev1.EnabledValue),
		"plain/job.yaml":     jobYAML("plain", "busybox:1"),
		"spec/svc.yaml":      serviceYAML("web", "10.0.200.50"),
	})
	ks := map[string]*kustomizev1.Kustomization{}
	for _, path := range []string{"annotated", "plain", "spec"} {
		ks[path] = testenv.Kustomization(ns, path, "repo", "./"+path, func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.Force = path == "spec"
		})
		g.Expect(env.Client.Create(ctx, ks[path])).To(Succeed())
	}
	for _, k := range ks {
		waitApplied(t, client.ObjectKeyFromObject(k), rev1)
	}
	oldJob := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "annotated"}, oldJob)).To(Succeed())
	oldSvc := &corev1.Service{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, oldSvc)).To(Succeed())

	rev2 := "main@sha1:7272727272727272727272727272727272727272"
	a.publish(t, ns, "repo", rev2, map[string]string{
		"annotated/job.yaml": jobYAML("annotated", "busybox:2", apply.ForcePolicy, kustomizev1.EnabledValue),
		"plain/job.yaml":     jobYAML("plain", "busybox:2"),
		"spec/svc.yaml":      serviceYAML("web", "10.0.200.51"),
	})
	waitApplied(t, client.ObjectKeyFromObject(ks["annotated"]), rev2)
	job := &batchv1.Job{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "annotated"}, job)).To(Succeed())
	g.Expect(job.UID).NotTo(Equal(oldJob.UID), "force: enabled recreates the Job")
	g.Expect(job.Spec.Template.Spec.Containers[0].Image).To(Equal("busybox:2"))

	waitApplied(t, client.ObjectKeyFromObject(ks["spec"]), rev2)
	svc := &corev1.Service{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, svc)).To(Succeed())
	g.Expect(svc.UID).NotTo(Equal(oldSvc.UID), "spec.force recreates the Service")
	g.Expect(svc.Spec.ClusterIP).To(Equal("10.0.200.51"))

	// Without force, the immutable change fails the apply.
	g.Eventually(func(g Gomega) {
		got, reason := readyReason(g, client.ObjectKeyFromObject(ks["plain"]))
		g.Expect(reason).To(Equal(meta.ReconciliationFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("field is immutable"))
		g.Expect(got.Status.LastAttemptedRevision).To(Equal(rev2))
		g.Expect(got.Status.LastAppliedRevision).To(Equal(rev1))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
