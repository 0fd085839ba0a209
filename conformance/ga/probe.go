package ga

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kwait "k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Probe kind is the suite's own: its objects have no controller, and
// the suite writes their status conditions, so their health reads the same
// (through kstatus's standard Reconciling and Stalled conditions) on any
// cluster, with or without a kubelet.
var probeGVK = schema.GroupVersionKind{Group: "conformance.weir.dev", Version: "v1", Kind: "Probe"}

const probeCRDName = "probes.conformance.weir.dev"

func probeCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: probeCRDName},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: probeGVK.Group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "probes", Singular: "probe", Kind: probeGVK.Kind, ListKind: "ProbeList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: probeGVK.Version, Served: true, Storage: true,
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve}},
			}},
		},
	}
}

// installProbeCRD installs the Probe CRD unless it exists and returns a
// function that removes it again if this run installed it.
func installProbeCRD(ctx context.Context, c client.Client) (func(), error) {
	crd := probeCRD()
	created := true
	if err := c.Create(ctx, crd); apierrors.IsAlreadyExists(err) {
		created = false
	} else if err != nil {
		return nil, fmt.Errorf("install the Probe CRD: %w", err)
	}
	err := kwait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: probeCRDName}, crd); err != nil {
			return false, nil
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for the Probe CRD to be established: %w", err)
	}
	return func() {
		if created {
			_ = c.Delete(context.Background(), probeCRD())
		}
	}, nil
}

// Probe creates a Probe in ns.
func (t *T) Probe(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(probeGVK)
	u.SetNamespace(ns)
	u.SetName(name)
	t.Create(u)
	return u
}

// SetProbe writes the Probe's status conditions: Reconciling (in
// progress), Stalled (failed) or neither (current), with Ready to match.
func (t *T) SetProbe(u *unstructured.Unstructured, state string) {
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(typ, status, reason string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": "set by the conformance suite", "lastTransitionTime": now}
	}
	var conds []any
	switch state {
	case "InProgress":
		conds = []any{cond("Reconciling", "True", "Progressing"), cond("Ready", "False", "Progressing")}
	case "Failed":
		conds = []any{cond("Stalled", "True", "Broken"), cond("Ready", "False", "Broken")}
	default:
		conds = []any{cond("Ready", "True", "Succeeded")}
	}
	t.SetProbeStatus(u, map[string]any{"conditions": conds})
}

// SetProbeStatus replaces the Probe's status.
func (t *T) SetProbeStatus(u *unstructured.Unstructured, status map[string]any) {
	for range 10 {
		if !t.Get(u) {
			t.Fatalf("probe %s/%s disappeared", u.GetNamespace(), u.GetName())
		}
		u.Object["status"] = status
		err := t.c.Status().Update(t.ctx, u)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatalf("update probe status: %v", err)
		}
	}
	t.Fatalf("update probe status: conflicts kept coming")
}
