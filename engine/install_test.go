package engine

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestInstallManifests builds config/default as `kubectl apply -k` would,
// applies it to the test control plane, checks the objects a complete
// install needs, that probes, ports and Services lead to what the engine
// serves, and that the Deployment's arguments pass the engine's own flag
// validation.
func TestInstallManifests(t *testing.T) {
	g := NewWithT(t)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), "../config/default")
	g.Expect(err).NotTo(HaveOccurred())

	kinds := map[string]int{}
	var names []string
	services := map[string]string{} // name → target port
	var deploy *appsv1.Deployment
	for _, r := range resMap.Resources() {
		m, err := r.Map()
		g.Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{Object: m}
		kinds[u.GetKind()]++
		names = append(names, u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName())
		switch u.GetKind() {
		case "Deployment":
			deploy = &appsv1.Deployment{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, deploy)).To(Succeed())
		case "Service":
			svc := &corev1.Service{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, svc)).To(Succeed())
			services[svc.Name] = svc.Spec.Ports[0].TargetPort.String()
		}
		g.Expect(env.Client.Patch(context.Background(), u, client.Apply, client.FieldOwner("weir-install-test"), client.ForceOwnership)).
			To(Succeed(), "applying %s %s", u.GetKind(), u.GetName())
	}
	g.Expect(kinds).To(HaveKeyWithValue("CustomResourceDefinition", 4))
	g.Expect(names).To(ContainElements("Namespace//weir-system", "ServiceAccount/weir-system/weir-engine",
		"ClusterRole//weir-engine", "ClusterRoleBinding//weir-engine", "ClusterRoleBinding//weir-reconciler",
		"Role/weir-system/weir-leader-election", "RoleBinding/weir-system/weir-leader-election",
		"Deployment/weir-system/weir-engine", "Service/weir-system/weir-artifacts", "Service/weir-system/weir-webhook-receiver"))
	g.Expect(deploy).NotTo(BeNil())

	pod := deploy.Spec.Template.Spec
	c := pod.Containers[0]
	g.Expect(c.Image).To(Equal("weir-engine:latest"), "config/default's images entry, which make set-image rewrites")
	g.Expect(pod.ServiceAccountName).To(Equal("weir-engine"))
	g.Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
	g.Expect(*pod.SecurityContext.RunAsUser).To(BeEquivalentTo(65532), "the image's user")
	g.Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
	g.Expect(*c.SecurityContext.AllowPrivilegeEscalation).To(BeFalse())
	g.Expect(c.SecurityContext.Capabilities.Drop).To(ConsistOf(corev1.Capability("ALL")))
	g.Expect(c.Resources.Requests).NotTo(BeEmpty())

	// Probes, ports and Services lead to what the engine serves with its
	// default addresses.
	def := DefaultConfig()
	ports := map[string]string{}
	for _, p := range c.Ports {
		ports[p.Name] = strconv.Itoa(int(p.ContainerPort))
	}
	g.Expect(ports).To(HaveKeyWithValue("healthz", port(def.HealthAddr)))
	g.Expect(ports).To(HaveKeyWithValue("http-metrics", port(def.MetricsAddr)))
	g.Expect(ports).To(HaveKeyWithValue("http-artifacts", port(def.StorageAddr)))
	g.Expect(ports).To(HaveKeyWithValue("http-webhook", port(def.ReceiverAddr)))
	g.Expect(c.LivenessProbe.HTTPGet.Path).To(Equal("/healthz"))
	g.Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal("/readyz"))
	g.Expect(c.LivenessProbe.HTTPGet.Port.String()).To(Equal("healthz"))
	g.Expect(c.ReadinessProbe.HTTPGet.Port.String()).To(Equal("healthz"))
	g.Expect(services).To(HaveKeyWithValue("weir-artifacts", "http-artifacts"))
	g.Expect(services).To(HaveKeyWithValue("weir-webhook-receiver", "http-webhook"))

	g.Expect(c.Args[0]).To(Equal("run"))
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	cfg.BindFlags(fs)
	args := make([]string, 0, len(c.Args)-1)
	for _, a := range c.Args[1:] {
		args = append(args, strings.ReplaceAll(a, "$(RUNTIME_NAMESPACE)", "weir-system"))
	}
	g.Expect(fs.Parse(args)).To(Succeed())
	g.Expect(cfg.Validate()).To(Succeed())
}

// port is the port of a host:port address.
func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

// TestInstallWithoutCRDs checks the install for a cluster that keeps Flux's
// CRDs: everything of config/default but the CRDs of Flux's three kinds.
func TestInstallWithoutCRDs(t *testing.T) {
	g := NewWithT(t)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	full, err := k.Run(filesys.MakeFsOnDisk(), "../config/default")
	g.Expect(err).NotTo(HaveOccurred())
	slim, err := k.Run(filesys.MakeFsOnDisk(), "../config/without-crds")
	g.Expect(err).NotTo(HaveOccurred())
	var crds []string
	for _, r := range slim.Resources() {
		if r.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, r.GetName())
		}
	}
	g.Expect(crds).To(ConsistOf("plugins.weir.dev"))
	g.Expect(slim.Size()).To(Equal(full.Size() - 3))
}
