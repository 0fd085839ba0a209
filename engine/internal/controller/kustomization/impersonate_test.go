package kustomization

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func secretYAML(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\nstringData:\n  k: v\n", name)
}

// configMapDeployer creates a service account in ns that may manage
// ConfigMaps there and nothing else.
func configMapDeployer(t *testing.T, ns, name string) {
	t.Helper()
	for _, o := range testenv.ServiceAccount(ns, name, rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"},
	}) {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// failsWith waits for k to fail its apply with msg.
func failsWith(t *testing.T, k *kustomizev1.Kustomization, reason string, msg ...string) *kustomizev1.Kustomization {
	t.Helper()
	got := &kustomizev1.Kustomization{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(reason))
		for _, m := range msg {
			g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(m))
		}
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	return got
}

func forbidden(ns, sa, secret string) string {
	return fmt.Sprintf(`secrets %q is forbidden: User "system:serviceaccount:%s:%s" cannot patch resource "secrets"`, secret, ns, sa)
}

func TestServiceAccountImpersonation(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	configMapDeployer(t, ns, "deployer")

	t.Run("spec.serviceAccountName", func(t *testing.T) {
		g := NewWithT(t)
		start(t)
		a := newArtifacts(t)
		rev1 := "main@sha1:8181818181818181818181818181818181818181"
		a.publish(t, ns, "repo", rev1, map[string]string{"cm.yaml": cm("allowed"), "secret.yaml": secretYAML("denied")})
		k := testenv.Kustomization(ns, "tenant", "repo", "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.ServiceAccountName = "deployer"
		})
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		got := failsWith(t, k, meta.ReconciliationFailedReason, "apply failed", forbidden(ns, "deployer", "denied"))
		// Nothing is counted as applied. The intent each retry records
		// before applying is cut back to what the apply reached (nothing
		// here) once it fails, so between retries the inventory is empty.
		g.Expect(got.Status.LastAppliedRevision).To(BeEmpty())
		g.Eventually(func(g Gomega) {
			cur := &kustomizev1.Kustomization{}
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), cur)).To(Succeed())
			if cur.Status.Inventory != nil {
				g.Expect(cur.Status.Inventory.Entries).To(BeEmpty())
			}
		}, 20*time.Second, 50*time.Millisecond).Should(Succeed())
		g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "allowed"}, &corev1.ConfigMap{})).To(BeFalse())

		rev2 := "main@sha1:8282828282828282828282828282828282828282"
		a.publish(t, ns, "repo", rev2, map[string]string{"cm.yaml": cm("allowed")})
		waitApplied(t, client.ObjectKeyFromObject(k), rev2)
		g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: "allowed"}, &corev1.ConfigMap{})).To(BeTrue())

		// Deletion prunes as the account too.
		g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
		waitGone(t, client.ObjectKey{Namespace: ns, Name: "allowed"}, &corev1.ConfigMap{})
		waitGone(t, client.ObjectKeyFromObject(k), &kustomizev1.Kustomization{})
	})

	t.Run("the engine-wide default account", func(t *testing.T) {
		g := NewWithT(t)
		startWith(t, Options{DefaultServiceAccount: "deployer"})
		a := newArtifacts(t)
		rev := "main@sha1:8383838383838383838383838383838383838383"
		a.publish(t, ns, "repo2", rev, map[string]string{"cm.yaml": cm("defaulted"), "secret.yaml": secretYAML("denied2")})
		k := testenv.Kustomization(ns, "defaulted", "repo2", "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		failsWith(t, k, meta.ReconciliationFailedReason, forbidden(ns, "deployer", "denied2"))

	})
}

func TestHealthIsReadAsTheAccount(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	configMapDeployer(t, ns, "deployer")
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "nginx"}}}}}}
	g.Expect(env.Client.Create(ctx, dep)).To(Succeed())
	markAvailable(t, ns, "web")
	m := object.ObjMetadata{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, Namespace: ns, Name: "web"}
	r := &Reconciler{Client: env.Client, restCfg: env.Config}
	r.local = &apply.Cluster{Reader: env.Client, Local: true}
	h := &apply.Health{Client: env.Client}

	k := testenv.Kustomization(ns, "app", "repo", "./")
	c, err := r.clusterFor(ctx, k)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(h.Object(ctx, c, m, "v1", nil, nil).Status).To(Equal(status.CurrentStatus), "the engine may read it")

	k.Spec.ServiceAccountName = "deployer"
	c, err = r.clusterFor(ctx, k)
	g.Expect(err).NotTo(HaveOccurred())
	v := h.Object(ctx, c, m, "v1", nil, nil)
	g.Expect(v.Status).To(Equal(status.UnknownStatus))
	g.Expect(v.Message).To(ContainSubstring(`deployments.apps "web" is forbidden: User "system:serviceaccount:` + ns + `:deployer"`))
	again, err := r.clusterFor(ctx, k)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(BeIdenticalTo(c), "clients are cached per account")
}

// kubeConfig returns the test control plane's kubeconfig, changed by f.
func kubeConfig(t *testing.T, f func(*clientcmdapi.Config)) []byte {
	t.Helper()
	kc, err := clientcmd.Load(env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		f(kc)
	}
	b, err := clientcmd.Write(*kc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKubeConfigRemoteCluster(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	configMapDeployer(t, ns, "deployer")
	current := func(kc *clientcmdapi.Config) (*clientcmdapi.Cluster, *clientcmdapi.AuthInfo) {
		c := kc.Contexts[kc.CurrentContext]
		return kc.Clusters[c.Cluster], kc.AuthInfos[c.AuthInfo]
	}
	secrets := map[string]map[string][]byte{
		"plain":  {"value": kubeConfig(t, nil)},
		"yaml":   {"value.yaml": kubeConfig(t, nil)},
		"custom": {"config": kubeConfig(t, nil)},
		"insecure": {"value": kubeConfig(t, func(kc *clientcmdapi.Config) {
			cl, _ := current(kc)
			cl.InsecureSkipTLSVerify, cl.CertificateAuthorityData = true, nil
		})},
		"exec": {"value": kubeConfig(t, func(kc *clientcmdapi.Config) {
			_, u := current(kc)
			u.ClientCertificateData, u.ClientKeyData = nil, nil
			u.Exec = &clientcmdapi.ExecConfig{Command: "get-token", APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
		})},
		"files": {"value": kubeConfig(t, func(kc *clientcmdapi.Config) {
			_, u := current(kc)
			u.ClientCertificateData, u.ClientKeyData, u.TokenFile = nil, nil, "/var/run/secrets/kubernetes.io/serviceaccount/token"
		})},
	}
	for name, data := range secrets {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
		NewWithT(t).Expect(env.Client.Create(ctx, sec)).To(Succeed())
	}
	rev := "main@sha1:9191919191919191919191919191919191919191"
	a.publish(t, ns, "repo", rev, map[string]string{"cm.yaml": cm("remote"), "secret.yaml": secretYAML("remote")})
	a.publish(t, ns, "cms", rev, map[string]string{"cm.yaml": cm("remote")})
	kustomization := func(name, source string, ref meta.SecretKeyReference, f func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
		return testenv.Kustomization(ns, name, source, "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace, k.Spec.NamePrefix = ns, name+"-"
			k.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &ref}
		}, f)
	}

	for _, tt := range []struct{ name, secret, key string }{{"value", "plain", ""}, {"value-yaml", "yaml", ""}, {"key", "custom", "config"}} {
		t.Run("applies and deletes through the Secret's key "+tt.name, func(t *testing.T) {
			g := NewWithT(t)
			k := kustomization(tt.name, "repo", meta.SecretKeyReference{Name: tt.secret, Key: tt.key}, nil)
			g.Expect(env.Client.Create(ctx, k)).To(Succeed())
			waitApplied(t, client.ObjectKeyFromObject(k), rev)
			obj := &corev1.Secret{}
			g.Expect(exists(g, client.ObjectKey{Namespace: ns, Name: tt.name + "-remote"}, obj)).To(BeTrue())
			g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
			waitGone(t, client.ObjectKey{Namespace: ns, Name: tt.name + "-remote"}, obj)
		})
	}

	t.Run("impersonates the service account on the remote cluster", func(t *testing.T) {
		k := kustomization("tenant", "repo", meta.SecretKeyReference{Name: "plain"}, func(k *kustomizev1.Kustomization) {
			k.Spec.ServiceAccountName = "deployer"
		})
		NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
		failsWith(t, k, meta.ReconciliationFailedReason, forbidden(ns, "deployer", "tenant-remote"))
	})

	for _, tt := range []struct{ name, secret, key, msg string }{
		{"missing-secret", "absent", "", "kubeconfig Secret '" + ns + "/absent' not found"},
		{"missing-key", "plain", "nope", "has no key 'nope'"},
		{"insecure", "insecure", "", "sets insecure-skip-tls-verify, which is not allowed"},
		{"exec", "exec", "", `uses the exec credential plugin "get-token", which is not allowed`},
		{"files", "files", "", "references files"},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			k := kustomization(tt.name, "cms", meta.SecretKeyReference{Name: tt.secret, Key: tt.key}, nil)
			NewWithT(t).Expect(env.Client.Create(ctx, k)).To(Succeed())
			got := failsWith(t, k, meta.ReconciliationFailedReason, "failed to build kube client", tt.msg)
			NewWithT(t).Expect(got.Status.Inventory).To(BeNil())
		})
	}
}
