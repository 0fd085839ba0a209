package ga

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
)

// configMap is a ConfigMap manifest with one data key, value.
func configMap(name, value string, extra ...string) string {
	meta := ""
	if len(extra) > 0 {
		meta = "\n" + strings.Join(extra, "\n")
	}
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s%s\ndata:\n  value: %q\n", name, meta, value)
}

// annotated returns metadata lines with one annotation.
func annotated(k, v string) string { return fmt.Sprintf("  annotations:\n    %s: %q", k, v) }

// fixture is a case's namespace, repository and Ready GitRepository.
type fixture struct {
	ns   string
	repo *Repo
	src  *sourcev1.GitRepository
	rev  string
}

// Source creates a namespace, a repository of files and a Ready
// GitRepository "src" for it.
func (t *T) Source(files map[string]string) *fixture { return t.SourceIn(t.Namespace(), files) }

// SourceIn is Source in an existing namespace.
func (t *T) SourceIn(ns string, files map[string]string) *fixture {
	repo, sha := t.Repo(files)
	gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", sha))
	return &fixture{ns: ns, repo: repo, src: gr, rev: rev("main", sha)}
}

// Push commits files and waits for the GitRepository to serve the new
// revision, which it returns.
func (t *T) Push(f *fixture, files map[string]string) string {
	sha := f.repo.Commit("update", files)
	f.rev = rev("main", sha)
	t.RequestReconcile(f.src)
	t.SourceReady(f.src, f.rev)
	return f.rev
}

// ConfigMap reads a ConfigMap; ok is false when it does not exist.
func (t *T) ConfigMap(ns, name string) (*corev1.ConfigMap, bool) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return cm, t.Get(cm)
}

// MustConfigMap reads a ConfigMap that must exist.
func (t *T) MustConfigMap(ns, name string) *corev1.ConfigMap {
	cm, ok := t.ConfigMap(ns, name)
	if !ok {
		t.Fatalf("ConfigMap %s/%s does not exist", ns, name)
	}
	return cm
}

// MustNotConfigMap fails with why when the ConfigMap exists.
func (t *T) MustNotConfigMap(ns, name, why string) {
	if _, ok := t.ConfigMap(ns, name); ok {
		t.Fatalf("ConfigMap %s/%s exists: %s", ns, name, why)
	}
}

// WaitGone waits until the ConfigMap is deleted.
func (t *T) WaitGone(ns, name string) {
	t.Eventually(wait, fmt.Sprintf("ConfigMap %s/%s to be deleted", ns, name), func() (bool, string) {
		cm, ok := t.ConfigMap(ns, name)
		return !ok, fmt.Sprintf("still there, deletionTimestamp %v", cm.DeletionTimestamp)
	})
}

// ExpectValue checks the ConfigMap's value key.
func (t *T) ExpectValue(ns, name, want string) {
	if got := t.MustConfigMap(ns, name).Data["value"]; got != want {
		t.Fatalf("ConfigMap %s/%s has value %q, want %q", ns, name, got, want)
	}
}

// widgetCRD is a namespaced CRD of kind Widget in group.
func widgetCRD(group string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group)
}

func (t *T) deleteNamespace(name string) {
	_ = t.s.c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func (t *T) deleteCRD(name string) {
	_ = t.s.c.Delete(context.Background(), &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}})
}
