package ga

import (
	"fmt"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// wait is how long a case waits for one reconciliation to show.
const wait = 60 * time.Second

// hour keeps interval-driven reconciliations out of the way: cases trigger
// reconciliations with the requestedAt annotation.
var hour = metav1.Duration{Duration: time.Hour}

// GitRepository creates a GitRepository in ns for url following branch
// main, changed by mutate.
func (t *T) GitRepository(ns, name, url string, mutate ...func(*sourcev1.GitRepository)) *sourcev1.GitRepository {
	gr := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{URL: url, Interval: hour, Timeout: &metav1.Duration{Duration: 30 * time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}},
	}
	for _, m := range mutate {
		m(gr)
	}
	t.Create(gr)
	return gr
}

// Kustomization creates a Kustomization in ns applying path of the
// GitRepository src with prune on, changed by mutate.
func (t *T) Kustomization(ns, name, src, path string, mutate ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{Interval: hour, Path: path, Prune: true,
			Timeout:   &metav1.Duration{Duration: 30 * time.Second},
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: src}},
	}
	for _, m := range mutate {
		m(ks)
	}
	t.Create(ks)
	return ks
}

// conditioned is an object with status conditions and an observed
// generation.
type conditioned interface {
	client.Object
	GetConditions() []metav1.Condition
}

func observedGeneration(o client.Object) int64 {
	switch v := o.(type) {
	case *sourcev1.GitRepository:
		return v.Status.ObservedGeneration
	case *kustomizev1.Kustomization:
		return v.Status.ObservedGeneration
	case *notificationv1.Receiver:
		return v.Status.ObservedGeneration
	}
	return -1
}

// current tells whether Ready describes o's current generation. Ready=True
// does so when status.observedGeneration caught up; Ready=False may come
// from a failure the implementation retries, and Flux sets
// status.observedGeneration only on success or a stall, so there the
// condition's own observedGeneration counts too.
func current(o conditioned, c *metav1.Condition) bool {
	if observedGeneration(o) == o.GetGeneration() {
		return true
	}
	return c.Status == metav1.ConditionFalse && c.ObservedGeneration == o.GetGeneration()
}

// describe summarises an object's Ready condition for failure messages.
func describe(o conditioned) string {
	c := apimeta.FindStatusCondition(o.GetConditions(), meta.ReadyCondition)
	if c == nil {
		return fmt.Sprintf("no Ready condition (generation %d)", o.GetGeneration())
	}
	return fmt.Sprintf("Ready=%s reason=%s message=%q (generation %d)", c.Status, c.Reason, c.Message, o.GetGeneration())
}

// WaitReady waits until o's Ready condition is status for its current
// generation, and check (if any) holds; it returns the last state read
// into o.
func (t *T) WaitReady(o conditioned, status metav1.ConditionStatus, check ...func() (bool, string)) {
	t.Eventually(wait, fmt.Sprintf("%T %s to have Ready=%s", o, o.GetName(), status), func() (bool, string) {
		if !t.Get(o) {
			return false, "not found"
		}
		c := apimeta.FindStatusCondition(o.GetConditions(), meta.ReadyCondition)
		if c == nil || c.Status != status || !current(o, c) {
			return false, describe(o)
		}
		for _, f := range check {
			if ok, s := f(); !ok {
				return false, s
			}
		}
		return true, ""
	})
}

// SourceReady waits for the GitRepository to be Ready with an artifact of
// revision (any revision when empty) and returns it.
func (t *T) SourceReady(gr *sourcev1.GitRepository, revision string) *sourcev1.GitRepository {
	t.WaitReady(gr, metav1.ConditionTrue, func() (bool, string) {
		a := gr.Status.Artifact
		if a == nil {
			return false, "Ready but no status.artifact"
		}
		if revision != "" && a.Revision != revision {
			return false, fmt.Sprintf("artifact revision %q, want %q", a.Revision, revision)
		}
		return true, ""
	})
	return gr
}

// KsReady waits for the Kustomization to be Ready with revision applied.
func (t *T) KsReady(ks *kustomizev1.Kustomization, revision string) *kustomizev1.Kustomization {
	t.WaitReady(ks, metav1.ConditionTrue, func() (bool, string) {
		if revision != "" && ks.Status.LastAppliedRevision != revision {
			return false, fmt.Sprintf("lastAppliedRevision %q, want %q; %s", ks.Status.LastAppliedRevision, revision, describe(ks))
		}
		return true, ""
	})
	return ks
}

// KsFailed waits for the Kustomization to be Ready=False with a message
// containing substr, and returns it.
func (t *T) KsFailed(ks *kustomizev1.Kustomization, substr string) *kustomizev1.Kustomization {
	t.WaitReady(ks, metav1.ConditionFalse, func() (bool, string) {
		c := apimeta.FindStatusCondition(ks.Status.Conditions, meta.ReadyCondition)
		if !strings.Contains(strings.ToLower(c.Message), strings.ToLower(substr)) {
			return false, fmt.Sprintf("%s; want a message containing %q", describe(ks), substr)
		}
		return true, ""
	})
	return ks
}

// Reconcile sets the requestedAt annotation on o to a fresh value and
// waits until the implementation reports it handled.
func (t *T) Reconcile(o client.Object) {
	token := t.RequestReconcile(o)
	t.Eventually(wait, fmt.Sprintf("%T %s to handle reconcile request %s", o, o.GetName(), token), func() (bool, string) {
		t.Get(o)
		got := lastHandled(o)
		return got == token, fmt.Sprintf("status.lastHandledReconcileAt=%q", got)
	})
}

// RequestReconcile sets the requestedAt annotation on o and returns its
// value.
func (t *T) RequestReconcile(o client.Object) string {
	token := time.Now().UTC().Format(time.RFC3339Nano) + "-" + rand.String(4)
	t.Update(o, func() {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a[meta.ReconcileRequestAnnotation] = token
		o.SetAnnotations(a)
	})
	return token
}

func lastHandled(o client.Object) string {
	switch v := o.(type) {
	case *sourcev1.GitRepository:
		return v.Status.LastHandledReconcileAt
	case *kustomizev1.Kustomization:
		return v.Status.LastHandledReconcileAt
	}
	return ""
}

// rev is the revision of a commit on a named ref: <ref>@sha1:<sha>.
func rev(ref, sha string) string { return ref + "@sha1:" + sha }
