package kustomization

import (
	"context"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// stalls waits for k to be Stalled, and not Ready, with msg.
func stalls(t *testing.T, k *kustomizev1.Kustomization, msg string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.IsTrue(got, meta.StalledCondition)).To(BeTrue(), "stalled: a retry cannot fix it")
		g.Expect(conditions.GetMessage(got, meta.StalledCondition)).To(ContainSubstring(msg))
		g.Expect(got.Status.Inventory).To(BeNil())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

// TestKubeConfigConfigMap reaches a "remote" cluster (the test control
// plane, which trusts its own service account issuer) with the generic
// provider: a token requested for a service account, no stored
// credential. The cloud providers and incomplete ConfigMaps stall with a
// message that says what is missing.
func TestKubeConfigConfigMap(t *testing.T) {
	startWith(t, Options{ObjectLevelWorkloadIdentity: true})
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	configMapDeployer(t, ns, "deployer")
	address := strings.TrimSuffix(env.Config.Host, "/")
	// The control plane's issuer, the only audience its API server accepts.
	issuer := address + "/"
	generic := func(extra map[string]string) map[string]string {
		d := map[string]string{"provider": "generic", "address": address, "ca.crt": string(env.Config.CAData), "serviceAccountName": "deployer"}
		for k, v := range extra {
			if v == "" {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		return d
	}
	configMaps := map[string]map[string]string{
		"generic":      generic(map[string]string{"audiences": "\n" + issuer + "\n"}),
		"default-aud":  generic(nil),
		"aws":          {"provider": "aws", "cluster": "arn:aws:eks:eu-west-1:123456789012:cluster/prod"},
		"no-provider":  {"address": address},
		"no-address":   generic(map[string]string{"address": ""}),
		"http-address": generic(map[string]string{"address": "http://example.com"}),
		"no-account":   generic(map[string]string{"serviceAccountName": "", "audiences": issuer}),
	}
	for name, data := range configMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
		NewWithT(t).Expect(env.Client.Create(ctx, cm)).To(Succeed())
	}
	rev := "main@sha1:9292929292929292929292929292929292929292"
	a.publish(t, ns, "cms", rev, map[string]string{"cm.yaml": cm("remote")})
	a.publish(t, ns, "secrets", rev, map[string]string{"secret.yaml": secretYAML("remote")})
	kustomization := func(name, source, configMap string, f ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
		return testenv.Kustomization(ns, name, source, "./", append([]func(*kustomizev1.Kustomization){func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace, k.Spec.NamePrefix = ns, name+"-"
			k.Spec.KubeConfig = &meta.KubeConfigReference{ConfigMapRef: &meta.LocalObjectReference{Name: configMap}}
		}}, f...)...)
	}

	t.Run("generic applies and deletes as the service account", func(t *testing.T) {
		g := NewWithT(t)
		k := kustomization("generic", "cms", "generic")
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
		obj := &corev1.ConfigMap{}
		g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "generic-remote"}, obj)).To(BeTrue())
		g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
		waitGone(t, client.ObjectKey{Namespace: ns, Name: "generic-remote"}, obj)
	})
	t.Run("generic acts with the account's rights only", func(t *testing.T) {
		k := kustomization("generic-secret", "secrets", "generic")
		NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
		failsWith(t, k, meta.ReconciliationFailedReason, forbidden(ns, "deployer", "generic-secret-remote"))
	})
	t.Run("the audience defaults to the address", func(t *testing.T) {
		// The test API server accepts only its issuer as audience.
		k := kustomization("default-aud", "cms", "default-aud")
		NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
		failsWith(t, k, meta.ReconciliationFailedReason, "Unauthorized")
	})

	for _, tt := range []struct{ name, configMap, msg string }{
		{"cloud", "aws", "provider 'aws' needs cloud credentials, which the engine does not use"},
		{"missing", "absent", "kubeconfig ConfigMap '" + ns + "/absent' not found"},
		{"no-provider", "no-provider", "has no 'provider'"},
		{"no-address", "no-address", "the generic provider needs 'address'"},
		{"http-address", "http-address", "the generic provider needs 'address'"},
		{"no-account", "no-account", "the generic provider needs 'serviceAccountName'"},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			k := kustomization(tt.name, "cms", tt.configMap)
			NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
			if tt.name == "missing" {
				// A ConfigMap that may yet appear is retried, not stalled.
				failsWith(t, k, meta.ReconciliationFailedReason, tt.msg)
				return
			}
			stalls(t, k, tt.msg)
		})
	}
}

// TestKubeConfigConfigMapNeedsTheGate: naming a service account in the
// ConfigMap needs Flux's ObjectLevelWorkloadIdentity gate, as in Flux.
func TestKubeConfigConfigMapNeedsTheGate(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "generic"}, Data: map[string]string{
		"provider": "generic", "address": env.Config.Host, "serviceAccountName": "deployer"}}
	NewWithT(t).Expect(env.Client.Create(ctx, cm)).To(Succeed())
	a.publish(t, ns, "repo", "main@sha1:9393939393939393939393939393939393939393", map[string]string{"cm.yaml": cmData("x", "v")})
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.KubeConfig = &meta.KubeConfigReference{ConfigMapRef: &meta.LocalObjectReference{Name: "generic"}}
	})
	NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
	stalls(t, k, "'serviceAccountName' needs --feature-gates=ObjectLevelWorkloadIdentity=true")
}
