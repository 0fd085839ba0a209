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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func TestPostBuildSubstitution(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:8888888888888888888888888888888888888888"
	a.publish(t, ns, "repo", rev, map[string]string{
		"app/vars.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: vars-${cluster_env:=dev}
data:
  region: ${region}
  owner: ${owner}
  secret: ${db_password}
  defaulted: ${missing:-fallback}
  unset: "[${never_set}]"
  escaped: $${literal}
`,
		"app/raw.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  kept: ${region}
`,
		"components/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [extra.yaml]\n",
		"components/extra/extra.yaml":         cm("extra"),
	})
	g.Expect(env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cluster-vars"},
		Data: map[string]string{"region": "eu-west-1", "owner": "from-configmap"}})).To(Succeed())
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "cluster-secrets", map[string]string{"db_password": "hunter2"}))).To(Succeed())
	k := testenv.Kustomization(ns, "app", "repo", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.Components = []string{"../components/extra", "../components/absent"}
		k.Spec.IgnoreMissingComponents = true
		k.Spec.PostBuild = &kustomizev1.PostBuild{
			Substitute: map[string]string{"owner": "inline-wins", "cluster_env": "prod"},
			SubstituteFrom: []kustomizev1.SubstituteReference{
				{Kind: "ConfigMap", Name: "cluster-vars"},
				{Kind: "Secret", Name: "cluster-secrets"},
				{Kind: "ConfigMap", Name: "optional-absent", Optional: true},
			},
		}
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	waitApplied(t, client.ObjectKeyFromObject(k), rev)

	got := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "vars-prod"}, got)).To(Succeed())
	g.Expect(got.Data).To(Equal(map[string]string{
		"region":    "eu-west-1",
		"owner":     "inline-wins",
		"secret":    "hunter2",
		"defaulted": "fallback",
		"unset":     "[]",
		"escaped":   "${literal}",
	}))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "raw"}, got)).To(Succeed())
	g.Expect(got.Data).To(HaveKeyWithValue("kept", "${region}"), "substitute: disabled opts out")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "extra"}, got)).To(Succeed(), "the component applies")
}

// TestStrictPostBuildSubstitution runs with Flux's
// StrictPostBuildSubstitutions gate on: a variable without a value and
// without a default fails the build, and nothing is applied; one with a
// default or a value still builds.
func TestStrictPostBuildSubstitution(t *testing.T) {
	startWith(t, Options{StrictSubstitutions: true})
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:8989898989898989898989898989898989898989"
	a.publish(t, ns, "repo", rev, map[string]string{
		"set/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict-set\ndata:\n  region: ${region}\n  tier: ${tier:=gold}\n  zone: ${zone:-a}\n",
		"unset/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict-unset\ndata:\n  region: ${region}\n  owner: ${owner}\n",
	})
	for _, path := range []string{"set", "unset"} {
		k := testenv.Kustomization(ns, path, "repo", "./"+path, func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: map[string]string{"region": "eu-west-1"}}
		})
		NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
	}
	waitApplied(t, client.ObjectKey{Namespace: ns, Name: "set"}, rev)
	got := &corev1.ConfigMap{}
	NewWithT(t).Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "strict-set"}, got)).To(Succeed())
	NewWithT(t).Expect(got.Data).To(Equal(map[string]string{"region": "eu-west-1", "tier": "gold", "zone": "a"}))

	NewWithT(t).Eventually(func(g Gomega) {
		k := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "unset"}, k)).To(Succeed())
		g.Expect(conditions.IsFalse(k, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(k, meta.ReadyCondition)).To(Equal(meta.BuildFailedReason))
		g.Expect(conditions.GetMessage(k, meta.ReadyCondition)).To(ContainSubstring("variable not set (strict mode)"))
		g.Expect(k.Status.Inventory).To(BeNil())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "strict-unset"}, &corev1.ConfigMap{})
	NewWithT(t).Expect(apierrors.IsNotFound(err)).To(BeTrue(), "nothing of a failed build is applied")
}
