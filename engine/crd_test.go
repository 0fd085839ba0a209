package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// TestSamplesAccepted applies every file of config/samples and expects the
// API server to accept it as it is.
func TestSamplesAccepted(t *testing.T) {
	files, err := filepath.Glob("../config/samples/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("expected at least four samples, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			g := NewWithT(t)
			u := readObject(t, f)
			u.SetNamespace(env.Namespace(t))
			g.Expect(env.Client.Create(context.Background(), u)).To(Succeed())
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			g.Expect(env.Client.Get(context.Background(), clientKey(u), got)).To(Succeed())
			g.Expect(got.Object["spec"]).NotTo(BeNil())
		})
	}
}

// TestInvalidObjectsRejected checks that the schemas refuse bad objects with
// a message that names the field.
func TestInvalidObjectsRejected(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		mutate func(u *unstructured.Unstructured)
		want   []string
	}{
		{
			name:   "gitrepository bad interval",
			sample: "source_v1_gitrepository.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "every minute", "spec", "interval")
			},
			want: []string{"spec.interval", "should match"},
		},
		{
			name:   "gitrepository bad url scheme",
			sample: "source_v1_gitrepository.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "ftp://x/y", "spec", "url")
			},
			want: []string{"spec.url", "should match"},
		},
		{
			name:   "kustomization unknown sourceRef kind",
			sample: "kustomize_v1_kustomization.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "HelmRepository", "spec", "sourceRef", "kind")
			},
			want: []string{"spec.sourceRef.kind", "Unsupported value", `"HelmRepository"`},
		},
		{
			name:   "kustomization missing interval",
			sample: "kustomize_v1_kustomization.yaml",
			mutate: func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "spec", "interval") },
			want:   []string{"spec.interval", "Required value"},
		},
		{
			name:   "receiver without type",
			sample: "notification_v1_receiver.yaml",
			mutate: func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "spec", "type") },
			want:   []string{"spec.type", "Required value"},
		},
		{
			name:   "receiver unknown type",
			sample: "notification_v1_receiver.yaml",
			mutate: func(u *unstructured.Unstructured) { _ = unstructured.SetNestedField(u.Object, "svn", "spec", "type") },
			want:   []string{"spec.type", "Unsupported value"},
		},
		{
			name:   "plugin url not oci",
			sample: "weir_v1alpha1_plugin.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "https://x/y", "spec", "url")
			},
			want: []string{"spec.url", "should match '^oci://.+$'"},
		},
		{
			name:   "plugin without extension point",
			sample: "weir_v1alpha1_plugin.yaml",
			mutate: func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "spec", "transform") },
			want:   []string{"at least one of transform, health or notify must be set"},
		},
		{
			name:   "plugin bad match policy",
			sample: "weir_v1alpha1_plugin.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "Some", "spec", "verify", "matchPolicy")
			},
			want: []string{"spec.verify.matchPolicy", "Unsupported value"},
		},
		{
			name:   "plugin health without kinds",
			sample: "weir_v1alpha1_plugin.yaml",
			mutate: func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, map[string]any{"kinds": []any{}}, "spec", "health")
			},
			want: []string{"spec.health.kinds"},
		},
	}
	ns := env.Namespace(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			u := readObject(t, filepath.Join("../config/samples", tt.sample))
			u.SetNamespace(ns)
			tt.mutate(u)
			err := env.Client.Create(context.Background(), u)
			g.Expect(err).To(HaveOccurred())
			for _, w := range tt.want {
				g.Expect(err.Error()).To(ContainSubstring(w))
			}
		})
	}
}

func readObject(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return u
}

func clientKey(u *unstructured.Unstructured) types.NamespacedName {
	return types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}
}
