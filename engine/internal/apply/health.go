package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
)

// Health judges the objects a Kustomization waits on. A judgement only
// reads: the engine's own identity reads the informer cache, so a requeue
// by a watch costs no API request.
type Health struct {
	// Cache is the engine's informer cache: whole objects, for the kinds a
	// health plugin or an expression judges.
	Cache cache.Cache
	// Stubs holds the kstatus verdicts of the rest. Nil: Cache serves all.
	Stubs *HealthStubs
	// Client lists the health Plugins of a namespace.
	Client client.Reader
	// Plugins serves the verified health plugins. Nil: none.
	Plugins *wasm.Catalog
}

// alwaysCurrent kinds are healthy once applied: kstatus has nothing to wait
// for, so they need no informer.
var alwaysCurrent = map[schema.GroupKind]bool{
	{Kind: "ConfigMap"}: true, {Kind: "Secret"}: true, {Kind: "ServiceAccount"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}: true, {Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}: true, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}: true, {Kind: "LimitRange"}: true,
}

// Checks returns what o waits on: every applied object with wait, else
// spec.healthChecks.
func Checks(o *kustomizev1.Kustomization, applied object.ObjMetadataSet) []object.ObjMetadata {
	if o.Spec.Wait {
		return applied
	}
	out := make([]object.ObjMetadata, 0, len(o.Spec.HealthChecks))
	for _, hc := range o.Spec.HealthChecks {
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil {
			continue
		}
		out = append(out, object.ObjMetadata{GroupKind: schema.GroupKind{Group: gv.Group, Kind: hc.Kind}, Namespace: hc.Namespace, Name: hc.Name})
	}
	return out
}

// healthPlugins maps apiVersion/kind to the health Plugin of the namespace
// that claims it (the first by name when several do).
func (h *Health) healthPlugins(ctx context.Context, ns string) (map[string]*v1alpha1.Plugin, error) {
	out := map[string]*v1alpha1.Plugin{}
	if h.Plugins == nil {
		return out, nil
	}
	var list v1alpha1.PluginList
	if err := h.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.Health == nil || p.Spec.Suspend {
			continue
		}
		for _, k := range p.Spec.Health.Kinds {
			if _, taken := out[k.APIVersion+"/"+k.Kind]; !taken {
				out[k.APIVersion+"/"+k.Kind] = p
			}
		}
	}
	return out, nil
}

// Verdict is the health of one object.
type Verdict struct {
	Status  status.Status
	Message string
}

// Object reads the object m names and judges it with a health plugin, a
// healthCheckExprs expression or kstatus, in that order. The engine's own
// identity reads the cache (for kstatus, the verdict a stub keeps); an
// impersonated account or a remote cluster reads live, as that identity.
func (h *Health) Object(ctx context.Context, c *Cluster, m object.ObjMetadata, version string,
	plugins map[string]*v1alpha1.Plugin, exprs map[schema.GroupKind]*cel.StatusEvaluator) Verdict {
	gvk := m.GroupKind.WithVersion(version)
	key := client.ObjectKey{Namespace: m.Namespace, Name: m.Name}
	p, claimed := plugins[gvk.GroupVersion().String()+"/"+gvk.Kind]
	ev, judged := exprs[m.GroupKind]
	if c.Cached && h.Stubs != nil && !claimed && !judged {
		v, err := h.Stubs.Verdict(ctx, gvk, key)
		if err == nil {
			return v
		}
		if apierrors.IsNotFound(err) {
			return Verdict{status.InProgressStatus, "not found"}
		}
		// Outside the cache's namespaces: the live read below.
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	var err error
	if c.Cached && (claimed || judged || h.Stubs == nil) {
		// Outside the cache's namespaces, fall back to the live read.
		if err = h.Cache.Get(ctx, key, u); err != nil && !apierrors.IsNotFound(err) {
			err = c.Reader.Get(ctx, key, u)
		}
	} else {
		err = c.Reader.Get(ctx, key, u)
	}
	if apierrors.IsNotFound(err) {
		return Verdict{status.InProgressStatus, "not found"}
	} else if err != nil {
		return Verdict{status.UnknownStatus, err.Error()}
	}
	if claimed {
		e, loaded := h.Plugins.Get(wasm.Key{Namespace: p.Namespace, Name: p.Name})
		if !loaded {
			return Verdict{status.InProgressStatus, fmt.Sprintf("health plugin '%s/%s' is not ready", p.Namespace, p.Name)}
		}
		res, err := e.Plugin.Health(ctx, u.Object)
		if err != nil {
			return Verdict{status.FailedStatus, fmt.Sprintf("health plugin '%s/%s': %v", p.Namespace, p.Name, err)}
		}
		return Verdict{status.Status(res.Status), res.Message}
	}
	if judged {
		res, err := ev.Evaluate(ctx, u)
		if err != nil {
			// As Flux: an expression that cannot be evaluated yet (a
			// field not set so far) leaves the object unknown, so the
			// wait goes on until the timeout rather than failing at once.
			return Verdict{status.UnknownStatus, err.Error()}
		}
		return Verdict{res.Status, res.Message}
	}
	res, err := status.Compute(u)
	if err != nil {
		return Verdict{status.UnknownStatus, err.Error()}
	}
	return Verdict{res.Status, res.Message}
}

// CELEvaluators compiles spec.healthCheckExprs by group/kind. An error is
// the spec's fault: retrying cannot fix it.
func CELEvaluators(o *kustomizev1.Kustomization) (map[schema.GroupKind]*cel.StatusEvaluator, error) {
	out := map[schema.GroupKind]*cel.StatusEvaluator{}
	for _, hc := range o.Spec.HealthCheckExprs {
		gv, err := schema.ParseGroupVersion(hc.APIVersion)
		if err != nil {
			return nil, fmt.Errorf("healthCheckExprs: %w", err)
		}
		ev, err := cel.NewStatusEvaluator(&hc.HealthCheckExpressions)
		if err != nil {
			return nil, fmt.Errorf("healthCheckExprs for %s/%s: %w", hc.APIVersion, hc.Kind, err)
		}
		out[schema.GroupKind{Group: gv.Group, Kind: hc.Kind}] = ev
	}
	return out, nil
}

// Versions maps each group/kind to the version it was applied with (from
// the inventory this reconcile wrote, never a possibly stale cached status)
// and adds the versions spec.healthChecks names, for typed cache reads.
func Versions(o *kustomizev1.Kustomization, inv *kustomizev1.ResourceInventory) map[schema.GroupKind]string {
	out := map[schema.GroupKind]string{}
	if inv != nil {
		for _, e := range inv.Entries {
			if m, err := object.ParseObjMetadata(e.ID); err == nil {
				out[m.GroupKind] = e.Version
			}
		}
	}
	for _, hc := range o.Spec.HealthChecks {
		if gv, err := schema.ParseGroupVersion(hc.APIVersion); err == nil {
			out[schema.GroupKind{Group: gv.Group, Kind: hc.Kind}] = gv.Version
		}
	}
	return out
}

// Report is a health judgement: the objects not yet healthy and those
// that failed, each as "Kind/namespace/name: message".
type Report struct {
	Pending, Failed []string
}

// Judge judges todo on c. On the engine's own cluster it first makes sure
// each kind is watched (watch; whole: it is judged from whole objects, so
// the full cache must be watched too), so that a change after the read
// requeues.
// Kinds that are always healthy are skipped unless a plugin claims them.
func (h *Health) Judge(ctx context.Context, o *kustomizev1.Kustomization, c *Cluster, todo []object.ObjMetadata,
	vers map[schema.GroupKind]string, exprs map[schema.GroupKind]*cel.StatusEvaluator, watch func(gvk schema.GroupVersionKind, whole bool) error) (Report, error) {
	var rep Report
	plugins, err := h.healthPlugins(ctx, o.Namespace)
	if err != nil {
		return rep, err
	}
	for _, m := range todo {
		gvk := m.GroupKind.WithVersion(vers[m.GroupKind])
		_, claimed := plugins[gvk.GroupVersion().String()+"/"+m.GroupKind.Kind]
		if alwaysCurrent[m.GroupKind] && !claimed {
			continue
		}
		if c.Local {
			_, judged := exprs[m.GroupKind]
			if err := watch(gvk, claimed || judged); err != nil {
				return rep, err
			}
		}
		v := h.Object(ctx, c, m, vers[m.GroupKind], plugins, exprs)
		id := ID(m.GroupKind.Kind, m.Namespace, m.Name)
		switch v.Status {
		case status.CurrentStatus:
		case status.FailedStatus:
			rep.Failed = append(rep.Failed, fmt.Sprintf("%s: %s", id, v.Message))
		default:
			rep.Pending = append(rep.Pending, fmt.Sprintf("%s: %s", id, strings.TrimSpace(string(v.Status)+" "+v.Message)))
		}
	}
	return rep, nil
}
