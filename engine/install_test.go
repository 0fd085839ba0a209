package engine

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestInstallManifests builds config/default as `kubectl apply -k` would,
// applies it to the test control plane, and checks that the Deployment's
// arguments pass the engine's own flag validation.
func TestInstallManifests(t *testing.T) {
	g := NewWithT(t)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), "../config/default")
	g.Expect(err).NotTo(HaveOccurred())

	kinds := map[string]int{}
	var deploy *appsv1.Deployment
	for _, r := range resMap.Resources() {
		m, err := r.Map()
		g.Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{Object: m}
		kinds[u.GetKind()]++
		if u.GetKind() == "Deployment" {
			deploy = &appsv1.Deployment{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, deploy)).To(Succeed())
		}
		g.Expect(env.Client.Patch(context.Background(), u, client.Apply, client.FieldOwner("weir-install-test"), client.ForceOwnership)).
			To(Succeed(), "applying %s %s", u.GetKind(), u.GetName())
	}
	g.Expect(kinds).To(HaveKeyWithValue("CustomResourceDefinition", 4))
	g.Expect(kinds).To(HaveKey("ClusterRole"))
	g.Expect(deploy).NotTo(BeNil())

	c := deploy.Spec.Template.Spec.Containers[0]
	g.Expect(c.LivenessProbe).NotTo(BeNil())
	g.Expect(c.ReadinessProbe).NotTo(BeNil())
	g.Expect(*deploy.Spec.Template.Spec.SecurityContext.RunAsNonRoot).To(BeTrue())
	g.Expect(c.Resources.Requests).NotTo(BeEmpty())

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
