package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestFingerprint(t *testing.T) {
	base := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "a", "namespace": "n", "resourceVersion": "7", "generation": int64(2),
				"labels":        map[string]any{"app": "a"},
				"managedFields": []any{map[string]any{"manager": "kustomize-controller"}}},
			"spec":   map[string]any{"replicas": int64(2)},
			"status": map[string]any{"readyReplicas": int64(1)},
		}}
	}
	want, ok := Fingerprint(base())
	if !ok {
		t.Fatal("no fingerprint")
	}
	for _, tc := range []struct {
		name   string
		change func(u *unstructured.Unstructured)
		same   bool
	}{
		{"status", func(u *unstructured.Unstructured) { u.Object["status"] = map[string]any{"readyReplicas": int64(2)} }, true},
		{"resourceVersion", func(u *unstructured.Unstructured) { u.SetResourceVersion("8") }, true},
		{"generation", func(u *unstructured.Unstructured) { u.SetGeneration(3) }, true},
		{"managedFields", func(u *unstructured.Unstructured) { u.SetManagedFields(nil) }, true},
		{"spec", func(u *unstructured.Unstructured) { u.Object["spec"] = map[string]any{"replicas": int64(3)} }, false},
		{"label", func(u *unstructured.Unstructured) { u.SetLabels(nil) }, false},
		{"annotation", func(u *unstructured.Unstructured) { u.SetAnnotations(map[string]string{"x": "y"}) }, false},
		{"finalizer", func(u *unstructured.Unstructured) { u.SetFinalizers([]string{"f"}) }, false},
	} {
		u := base()
		tc.change(u)
		got, _ := Fingerprint(u)
		if (got == want) != tc.same {
			t.Errorf("%s: fingerprint equal = %v, want %v", tc.name, got == want, tc.same)
		}
	}
}

// An informer may transform an object twice: the stub of a stub is the
// stub, and an object that merely carries the annotation is still
// fingerprinted.
func TestStubIdempotent(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "a", "namespace": "n", "resourceVersion": "1"}, "data": map[string]any{"k": "v"}}}
	want, _ := Fingerprint(u)
	s1, _ := stub(u.DeepCopy())
	s2, _ := stub(s1)
	for _, s := range []any{s1, s2} {
		if got := s.(*unstructured.Unstructured).GetAnnotations()[fingerprintAnnotation]; got != want {
			t.Fatalf("stub fingerprint %q, want %q", got, want)
		}
	}
	if _, ok := s2.(*unstructured.Unstructured).Object["data"]; ok {
		t.Fatal("stub keeps data")
	}
	forged := u.DeepCopy()
	forged.SetAnnotations(map[string]string{fingerprintAnnotation: "forged"})
	s, _ := stub(forged)
	if got := s.(*unstructured.Unstructured).GetAnnotations()[fingerprintAnnotation]; got == "forged" {
		t.Fatal("a manifest's annotation was taken as the fingerprint")
	}
}
