package kustomization

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Condition and reasons of the transform step. Flux's status has no field
// for them, so the plugins that shaped a revision are recorded as a
// condition of their own, which Flux clients show and otherwise ignore.
const (
	TransformedCondition  = "Transformed"
	TransformFailedReason = "TransformFailed"
	PluginNotReadyReason  = "PluginNotReady"
	TransformedReason     = "TransformSucceeded"
)

// transformPlugins returns the transform Plugins whose selector matches o,
// in order, then by name.
func (r *Reconciler) transformPlugins(ctx context.Context, o *kustomizev1.Kustomization) ([]v1alpha1.Plugin, error) {
	var list v1alpha1.PluginList
	if err := r.List(ctx, &list, client.InNamespace(o.Namespace)); err != nil {
		return nil, fmt.Errorf("listing plugins: %w", err)
	}
	var out []v1alpha1.Plugin
	for _, p := range list.Items {
		if p.Spec.Transform == nil || p.Spec.Suspend {
			continue
		}
		if ok, err := selects(p.Spec.Transform.Selector, o); err != nil || !ok {
			continue
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].Spec.Transform.Order, out[j].Spec.Transform.Order; a != b {
			return a < b
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// selects matches a Plugin's selector against a Kustomization's labels; no
// selector selects every Kustomization of the namespace.
func selects(sel *metav1.LabelSelector, o client.Object) (bool, error) {
	if sel == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(o.GetLabels())), nil
}

// transform runs the matching transform plugins over the built objects.
// Any failure leaves nothing applied and nothing pruned.
func (r *Reconciler) transform(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	if r.Plugins == nil || s.resume != nil {
		return nil
	}
	plugins, err := r.transformPlugins(ctx, o)
	if err != nil {
		return reconcile.Retry(TransformFailedReason, err)
	}
	if len(plugins) == 0 {
		conditions.Delete(o, TransformedCondition)
		return nil
	}
	var shaped []string
	for i := range plugins {
		p := &plugins[i]
		key := wasm.Key{Namespace: p.Namespace, Name: p.Name}
		e, ok := r.Plugins.Get(key)
		if !ok {
			err := waiting(fmt.Errorf("transform plugin '%s' is not ready: nothing is applied until it is", key))
			conditions.MarkFalse(o, TransformedCondition, PluginNotReadyReason, "%s", err)
			return reconcile.Retry(PluginNotReadyReason, err)
		}
		objs, err := r.runTransform(ctx, o, p, e, s.objects)
		if err != nil {
			conditions.MarkFalse(o, TransformedCondition, TransformFailedReason, "%s", err)
			return reconcile.Retry(TransformFailedReason, err)
		}
		// The build's digests are of the objects before the transform.
		s.objects, s.sums, s.digest = objs, nil, ""
		shaped = append(shaped, key.String()+"@"+e.Digest)
	}
	s.transforms = shaped
	conditions.MarkTrue(o, TransformedCondition, TransformedReason, "%s", strings.Join(shaped, ", "))
	return nil
}

func (r *Reconciler) runTransform(ctx context.Context, o *kustomizev1.Kustomization, p *v1alpha1.Plugin, e wasm.Entry, in []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	name := p.Namespace + "/" + p.Name
	items := make([][]byte, len(in))
	for i, u := range in {
		b, err := u.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("transform plugin '%s': encode %s: %w", name, u.GetName(), err)
		}
		items[i] = b
	}
	out, err := e.Plugin.TransformJSON(ctx, items, nil)
	if err != nil {
		return nil, fmt.Errorf("transform plugin '%s': %w", name, err)
	}
	if errs := wasm.ErrorResults(out.Results); len(errs) > 0 {
		return nil, fmt.Errorf("transform plugin '%s' refused the revision: %s", name, results(errs))
	}
	for _, res := range out.Results {
		if res.Severity == abi.SeverityWarning && r.Recorder != nil {
			r.Recorder.Eventf(o, "Warning", "TransformWarning", "%s: %s", name, results([]abi.Result{res}))
		}
	}
	objs := make([]*unstructured.Unstructured, 0, len(out.Items))
	for i, b := range out.Items {
		// An object the plugin passed through unchanged is kept as built:
		// only changed and new objects are decoded.
		if i < len(in) && bytes.Equal(b, items[i]) {
			objs = append(objs, in[i])
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("transform plugin '%s': output item %d: %w", name, i, err)
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("transform plugin '%s': output item %d has no apiVersion, kind or name", name, i)
		}
		objs = append(objs, u)
	}
	if err := deletionGuard(p.Spec.Transform, in, objs); err != nil {
		return nil, fmt.Errorf("transform plugin '%s': %w", name, err)
	}
	ctrl.LoggerFrom(ctx).V(1).Info("transformed", "plugin", name, "digest", e.Digest, "in", len(in), "out", len(objs))
	return objs, nil
}

// deletionGuard refuses a transform that drops objects, unless its Plugin
// allows deletion: up to maxDeletionPercent of them, never all of them.
func deletionGuard(tp *v1alpha1.TransformPoint, in, out []*unstructured.Unstructured) error {
	if tp.AllowDeletion || len(in) == 0 {
		return nil
	}
	kept := map[string]bool{}
	for _, u := range out {
		kept[identity(u)] = true
	}
	removed := 0
	for _, u := range in {
		if !kept[identity(u)] {
			removed++
		}
	}
	switch {
	case removed == 0:
		return nil
	case removed == len(in):
		return fmt.Errorf("it removed all %d objects; refusing (set spec.transform.allowDeletion on the Plugin to allow it)", removed)
	case removed*100 > int(tp.MaxDeletionPercent)*len(in):
		return fmt.Errorf("it removed %d of %d objects, more than maxDeletionPercent %d%%; refusing (set spec.transform.allowDeletion on the Plugin to allow it)",
			removed, len(in), tp.MaxDeletionPercent)
	}
	return nil
}

func identity(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + u.GetNamespace() + "/" + u.GetName()
}

func results(rs []abi.Result) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		msg := r.Message
		if ref := r.ResourceRef; ref != nil {
			obj := ref.Kind + "/" + ref.Name
			if ref.Namespace != "" {
				obj = ref.Kind + "/" + ref.Namespace + "/" + ref.Name
			}
			msg = obj + ": " + msg
		}
		if r.Field != nil && r.Field.Path != "" {
			msg += " (" + r.Field.Path + ")"
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

// forPlugin enqueues the Kustomizations a transform Plugin selects, so a
// Plugin that becomes ready, or serves a new digest, applies at once.
func (r *Reconciler) forPlugin(ctx context.Context, obj client.Object) []ctrl.Request {
	p, ok := obj.(*v1alpha1.Plugin)
	if !ok {
		return nil
	}
	if p.Spec.Transform == nil && p.Spec.Health == nil {
		// An event from the catalog names the Plugin only: read its spec.
		full := &v1alpha1.Plugin{}
		if err := r.Get(ctx, client.ObjectKeyFromObject(p), full); err != nil {
			return nil
		}
		p = full
	}
	var reqs []ctrl.Request
	if p.Spec.Health != nil {
		for _, k := range r.waits.InNamespace(p.Namespace) {
			reqs = append(reqs, ctrl.Request{NamespacedName: k})
		}
	}
	if p.Spec.Transform == nil {
		return reqs
	}
	var list kustomizev1.KustomizationList
	if err := r.List(ctx, &list, client.InNamespace(p.Namespace)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing kustomizations for a plugin")
		return reqs
	}
	for i := range list.Items {
		if ok, _ := selects(p.Spec.Transform.Selector, &list.Items[i]); ok {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
