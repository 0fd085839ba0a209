package diff

import (
	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// noise is what the API server sets on every object and an apply never
// changes on purpose.
var noise = [][]string{
	{"metadata", "managedFields"},
	{"metadata", "resourceVersion"},
	{"metadata", "generation"},
	{"metadata", "uid"},
	{"metadata", "creationTimestamp"},
	{"status"},
}

// clean removes the server-set noise from u, in place, and returns it.
func clean(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil {
		return nil
	}
	for _, f := range noise {
		unstructured.RemoveNestedField(u.Object, f...)
	}
	if len(u.GetAnnotations()) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	}
	return u
}

// mask replaces a Secret's values with a mask, in place, and returns it.
// Objects other than Secrets are returned as they are.
func mask(u *unstructured.Unstructured) *unstructured.Unstructured {
	if !ssautils.IsSecret(u) {
		return u
	}
	_ = ssa.SanitizeUnstructuredData(nil, u)
	if m, ok, _ := unstructured.NestedMap(u.Object, "stringData"); ok {
		for k := range m {
			m[k] = "***"
		}
		_ = unstructured.SetNestedMap(u.Object, m, "stringData")
	}
	return u
}
