package apply

import (
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var deployment = schema.GroupKind{Group: "apps", Kind: "Deployment"}

func TestChecksAndVersions(t *testing.T) {
	g := NewWithT(t)
	applied := object.ObjMetadataSet{{GroupKind: deployment, Namespace: "ns", Name: "web"}}
	o := &kustomizev1.Kustomization{}
	o.Spec.HealthChecks = []meta.NamespacedObjectKindReference{
		{APIVersion: "example.com/v2", Kind: "Widget", Namespace: "ns", Name: "w"},
		{APIVersion: "not/a/version", Kind: "Broken", Name: "b"},
	}
	g.Expect(Checks(o, applied)).To(Equal([]object.ObjMetadata{
		{GroupKind: schema.GroupKind{Group: "example.com", Kind: "Widget"}, Namespace: "ns", Name: "w"},
	}), "without wait, spec.healthChecks; unparsable ones are left out")
	o.Spec.Wait = true
	g.Expect(Checks(o, applied)).To(Equal([]object.ObjMetadata(applied)), "wait checks every applied object")

	vers := Versions(o, &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{{ID: "ns_web_apps_Deployment", Version: "v1"}}})
	g.Expect(vers).To(HaveKeyWithValue(deployment, "v1"))
	g.Expect(vers).To(HaveKeyWithValue(schema.GroupKind{Group: "example.com", Kind: "Widget"}, "v2"))
}

func TestCELEvaluators(t *testing.T) {
	g := NewWithT(t)
	o := &kustomizev1.Kustomization{}
	o.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: "example.com/v1", Kind: "Widget",
		HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "status.phase == 'Ready'"}}}
	evs, err := CELEvaluators(o)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(evs).To(HaveKey(schema.GroupKind{Group: "example.com", Kind: "Widget"}))
	o.Spec.HealthCheckExprs[0].Current = "status.phase =="
	_, err = CELEvaluators(o)
	g.Expect(err).To(MatchError(ContainSubstring("healthCheckExprs for example.com/v1/Widget")))
}

func TestWaitsIndex(t *testing.T) {
	g := NewWithT(t)
	w := NewWaits[string]()
	a, b := types.NamespacedName{Namespace: "one", Name: "a"}, types.NamespacedName{Namespace: "two", Name: "b"}
	web := object.ObjMetadata{GroupKind: deployment, Namespace: "apps", Name: "web"}
	db := object.ObjMetadata{GroupKind: deployment, Namespace: "apps", Name: "db"}
	w.Set(a, []object.ObjMetadata{web, db}, "first")
	w.Set(b, []object.ObjMetadata{web}, "second")

	s, ok := w.Get(a)
	g.Expect(ok).To(BeTrue())
	g.Expect(s).To(Equal("first"))
	g.Expect(w.WaitingOn(deployment, "apps", "web")).To(ConsistOf(a, b))
	g.Expect(w.WaitingOn(deployment, "apps", "db")).To(ConsistOf(a))
	g.Expect(w.WaitingOn(schema.GroupKind{Kind: "Service"}, "apps", "web")).To(BeEmpty(), "keyed by kind too")
	g.Expect(w.InNamespace("two")).To(ConsistOf(b))

	w.Set(a, []object.ObjMetadata{db}, "again")
	g.Expect(w.WaitingOn(deployment, "apps", "web")).To(ConsistOf(b), "a new wait replaces the old one")
	w.Clear(b)
	g.Expect(w.WaitingOn(deployment, "apps", "web")).To(BeEmpty())
	_, ok = w.Get(b)
	g.Expect(ok).To(BeFalse())
	g.Expect(w.byObj).To(HaveLen(1), "cleared waits leave no index entries")
}
