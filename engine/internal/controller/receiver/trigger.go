package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/cel"
	celgo "github.com/google/cel-go/cel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// defaultAPIVersions are used when a resource reference names no apiVersion.
var defaultAPIVersions = map[string]string{
	"GitRepository":   "source.toolkit.fluxcd.io/v1",
	"OCIRepository":   "source.toolkit.fluxcd.io/v1",
	"Bucket":          "source.toolkit.fluxcd.io/v1",
	"HelmRepository":  "source.toolkit.fluxcd.io/v1",
	"HelmChart":       "source.toolkit.fluxcd.io/v1",
	"Kustomization":   "kustomize.toolkit.fluxcd.io/v1",
	"HelmRelease":     "helm.toolkit.fluxcd.io/v2",
	"ImageRepository": "image.toolkit.fluxcd.io/v1",
	"Plugin":          "weir.dev/v1alpha1",
}

// Trigger requests a reconcile of every resource the Receiver names, by a
// merge patch of the reconcile.fluxcd.io/requestedAt annotation. The
// Receiver's resourceFilter and each resource's filter (CEL over "res", the
// resource's metadata, "req", the JSON request body, and "claims", the
// verified token claims of a generic-oidc request) must both pass for a
// resource to be annotated. It returns how many objects were annotated.
func Trigger(ctx context.Context, c client.Client, rcv *notificationv1.Receiver, noCrossNamespaceRefs bool, now time.Time, body []byte, claims map[string]any) (int, error) {
	global, err := compileFilter(rcv.Spec.ResourceFilter)
	if err != nil {
		return 0, err
	}
	req := map[string]any{}
	if len(body) > 0 && (global != nil || anyFilter(rcv)) {
		if err := json.Unmarshal(body, &req); err != nil {
			return 0, fmt.Errorf("the request body is not a JSON object, which the receiver's filters need: %w", err)
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		meta.ReconcileRequestAnnotation: now.Format(time.RFC3339Nano),
	}}})
	if err != nil {
		return 0, fmt.Errorf("encoding the trigger patch: %w", err)
	}
	var errs []error
	n := 0
	for _, res := range rcv.Spec.Resources {
		ns := res.Namespace
		if ns == "" {
			ns = rcv.Namespace
		}
		if noCrossNamespaceRefs && ns != rcv.Namespace {
			errs = append(errs, fmt.Errorf("cross-namespace reference to %s %s/%s refused", res.Kind, ns, res.Name))
			continue
		}
		gvk, err := resourceGVK(res.APIVersion, res.Kind)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		own, err := compileFilter(res.Filter)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		targets, err := resolve(ctx, c, gvk, ns, res.Name, res.MatchLabels)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, t := range targets {
			if global != nil || own != nil {
				ok, err := passes(ctx, c, t, req, claims, global, own)
				if err != nil {
					errs = append(errs, fmt.Errorf("filtering %s %s/%s: %w", res.Kind, t.Namespace, t.Name, err))
					continue
				}
				if !ok {
					continue
				}
			}
			if err := c.Patch(ctx, t, client.RawPatch(types.MergePatchType, patch)); err != nil {
				errs = append(errs, fmt.Errorf("annotating %s %s/%s: %w", res.Kind, t.Namespace, t.Name, err))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// ReadsRequest tells whether rcv's triggers depend on the request: any CEL
// filter may read its body or claims. Other triggers may be coalesced.
func ReadsRequest(rcv *notificationv1.Receiver) bool {
	return rcv.Spec.ResourceFilter != "" || anyFilter(rcv)
}

func anyFilter(rcv *notificationv1.Receiver) bool {
	for _, r := range rcv.Spec.Resources {
		if r.Filter != "" {
			return true
		}
	}
	return false
}

// compileFilter compiles a Receiver CEL filter; empty means none.
func compileFilter(expr string) (*cel.Expression, error) {
	if expr == "" {
		return nil, nil
	}
	e, err := cel.NewExpression(expr, cel.WithCompile(), cel.WithOutputType(celgo.BoolType), cel.WithStructVariables("res", "req", "claims"))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL filter %q: %w", expr, err)
	}
	return e, nil
}

// passes evaluates the filters with res, the target's metadata (read from
// the API when only its name is known), req, the request body, and claims.
func passes(ctx context.Context, c client.Client, t *metav1.PartialObjectMetadata, req, claims map[string]any, filters ...*cel.Expression) (bool, error) {
	if t.UID == "" {
		if err := c.Get(ctx, client.ObjectKeyFromObject(t), t); err != nil {
			return false, err
		}
	}
	res, err := runtime.DefaultUnstructuredConverter.ToUnstructured(t)
	if err != nil {
		return false, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	vars := map[string]any{"res": res, "req": req, "claims": claims}
	for _, f := range filters {
		if f == nil {
			continue
		}
		ok, err := f.EvaluateBoolean(ctx, vars)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func resourceGVK(apiVersion, kind string) (schema.GroupVersionKind, error) {
	if apiVersion == "" {
		apiVersion = defaultAPIVersions[kind]
	}
	if apiVersion == "" {
		return schema.GroupVersionKind{}, fmt.Errorf("resource kind %q needs an apiVersion", kind)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("resource apiVersion %q: %w", apiVersion, err)
	}
	return gv.WithKind(kind), nil
}

func resolve(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, ns, name string, matchLabels map[string]string) ([]*metav1.PartialObjectMetadata, error) {
	if name != "*" {
		o := &metav1.PartialObjectMetadata{}
		o.SetGroupVersionKind(gvk)
		o.SetNamespace(ns)
		o.SetName(name)
		return []*metav1.PartialObjectMetadata{o}, nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(matchLabels)}); err != nil {
		return nil, fmt.Errorf("listing %s in %s: %w", gvk.Kind, ns, err)
	}
	out := make([]*metav1.PartialObjectMetadata, 0, len(list.Items))
	for i := range list.Items {
		o := &list.Items[i]
		o.SetGroupVersionKind(gvk)
		out = append(out, o)
	}
	return out, nil
}
