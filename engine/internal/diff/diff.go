package diff

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/build"
)

// Action is what the next reconciliation would do to an object.
type Action string

// The actions a Change reports.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Pruned     Action = "pruned"
)

// Change is one object the next reconciliation would change.
type Change struct {
	Action Action
	// ID is Kind/namespace/name, or Kind/name for a cluster-scoped object.
	ID string
	// Before is the live object (nil when created), After the dry-run
	// result (nil when pruned), both without server-set noise and with
	// Secret values masked.
	Before, After *unstructured.Unstructured
}

// Result is the diff of one Kustomization.
type Result struct {
	Namespace, Name string
	// Revision is the source revision that was built.
	Revision string
	Changes  []Change
	// Unchanged counts the objects the apply would leave as they are;
	// Skipped those the per-object policies exclude.
	Unchanged, Skipped int
	// Transforms names the transform Plugins that select the
	// Kustomization; the diff does not run them, so what they change shows
	// as a difference.
	Transforms []string
}

// Fetcher downloads and unpacks a source artifact, checking its digest.
type Fetcher func(ctx context.Context, url, digest string) (filesys.FileSystem, error)

// Options configure Kustomization.
type Options struct {
	// Client reads the Kustomization, its source, substituteFrom and
	// decryption Secrets and the live objects, and sends the dry-runs. It
	// needs a REST mapper that knows every kind the build holds.
	Client client.Client
	// Fetch gets the artifact.
	Fetch Fetcher
}

// Kustomization computes what applying the current artifact of the
// Kustomization ns/name would change.
func Kustomization(ctx context.Context, ns, name string, o Options) (*Result, error) {
	if o.Client == nil || o.Fetch == nil {
		return nil, errors.New("a client and a fetcher are required")
	}
	c := o.Client
	k := &kustomizev1.Kustomization{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, k); err != nil {
		return nil, fmt.Errorf("getting Kustomization %s/%s: %w", ns, name, err)
	}
	if k.Spec.KubeConfig != nil {
		return nil, fmt.Errorf("Kustomization %s/%s applies to a remote cluster (spec.kubeConfig): diff it against that cluster", ns, name)
	}
	if kind := k.Spec.SourceRef.Kind; kind != sourcev1.GitRepositoryKind {
		return nil, fmt.Errorf("Kustomization %s/%s: source kind %q is not served", ns, name, kind)
	}
	src := &sourcev1.GitRepository{}
	srcKey := client.ObjectKey{Namespace: k.Spec.SourceRef.Namespace, Name: k.Spec.SourceRef.Name}
	if srcKey.Namespace == "" {
		srcKey.Namespace = ns
	}
	if err := c.Get(ctx, srcKey, src); err != nil {
		return nil, fmt.Errorf("getting GitRepository %s: %w", srcKey, err)
	}
	a := src.GetArtifact()
	if a == nil {
		return nil, fmt.Errorf("GitRepository %s has no artifact yet", srcKey)
	}
	fs, err := o.Fetch(ctx, a.URL, a.Digest)
	if err != nil {
		return nil, err
	}
	dec, err := build.Decryptor(ctx, c, k)
	if err != nil {
		return nil, err
	}
	objs, err := build.Build(ctx, fs, k, build.Options{Client: c, Decryptor: dec})
	if err != nil {
		return nil, err
	}
	build.Label(objs, k)
	sort.Sort(ssa.SortableUnstructureds(objs))

	res := &Result{Namespace: ns, Name: name, Revision: a.Revision}
	if res.Transforms, err = transforms(ctx, c, k); err != nil {
		return nil, err
	}
	if err := res.dryRun(ctx, c, k, objs); err != nil {
		return nil, err
	}
	if k.Spec.Prune {
		if err := res.pruned(ctx, c, k, objs); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// dryRun diffs every object against a server-side dry-run apply.
func (r *Result) dryRun(ctx context.Context, c client.Client, k *kustomizev1.Kustomization, objs []*unstructured.Unstructured) error {
	rm := ssa.NewResourceManager(c, nil, apply.Owner)
	// The stage's own apply policies, so the diff shows what it would do.
	ao := apply.ApplyOptions(k)
	opts := ssa.DiffOptions{
		Force:                ao.Force,
		Exclusions:           ao.ExclusionSelector,
		IfNotPresentSelector: ao.IfNotPresentSelector,
		ForceSelector:        ao.ForceSelector,
	}
	// Objects in a namespace, or of a kind, that this apply creates cannot
	// be dry-run yet: they are created too.
	newNamespaces, newKinds := map[string]bool{}, map[schema.GroupKind]bool{}
	for _, obj := range objs {
		entry, before, after, err := rm.Diff(ctx, obj.DeepCopy(), opts)
		if err != nil {
			if !awaitsParent(err, obj, newNamespaces, newKinds) {
				return fmt.Errorf("dry-run failed: %w", err)
			}
			entry = &ssa.ChangeSetEntry{Action: ssa.CreatedAction}
		}
		switch entry.Action {
		case ssa.CreatedAction:
			if ssautils.IsNamespace(obj) {
				newNamespaces[obj.GetName()] = true
			}
			if ssautils.IsCRD(obj) {
				g, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
				newKinds[schema.GroupKind{Group: g, Kind: kind}] = true
			}
			r.Changes = append(r.Changes, Change{Action: Created, ID: ssautils.FmtUnstructured(obj), After: mask(clean(obj.DeepCopy()))})
		case ssa.ConfiguredAction:
			r.Changes = append(r.Changes, Change{Action: Configured, ID: ssautils.FmtUnstructured(obj),
				Before: clean(before), After: clean(after)})
		case ssa.SkippedAction:
			r.Skipped++
		default:
			r.Unchanged++
		}
	}
	return nil
}

// pruned lists the inventory's objects the build no longer holds and that
// the stage's garbage collection would delete.
func (r *Result) pruned(ctx context.Context, c client.Client, k *kustomizev1.Kustomization, objs []*unstructured.Unstructured) error {
	if k.Status.Inventory == nil {
		return nil
	}
	keep := object.ObjMetadataSet{}
	for _, obj := range objs {
		keep = append(keep, object.UnstructuredToObjMetadata(obj))
	}
	var gone []*unstructured.Unstructured
	for _, e := range k.Status.Inventory.Entries {
		m, err := object.ParseObjMetadata(e.ID)
		if err != nil {
			return fmt.Errorf("reading inventory entry %q: %w", e.ID, err)
		}
		if keep.Contains(m) {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(m.GroupKind.WithVersion(e.Version))
		if err := c.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Name}, live); err != nil {
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				continue
			}
			return fmt.Errorf("getting %s: %w", ssautils.FmtObjMetadata(m), err)
		}
		// What the stage's prune may delete: its own objects, never those
		// that opt out.
		del := apply.DeleteOptions(k)
		owned := true
		for key, v := range del.Inclusions {
			owned = owned && live.GetLabels()[key] == v
		}
		excluded := ssautils.AnyInMetadata(live, del.Exclusions)
		if owned && !excluded && live.GetDeletionTimestamp() == nil {
			gone = append(gone, live)
		}
	}
	// Deletion goes in reverse apply order.
	sort.Sort(sort.Reverse(ssa.SortableUnstructureds(gone)))
	for _, live := range gone {
		r.Changes = append(r.Changes, Change{Action: Pruned, ID: ssautils.FmtUnstructured(live), Before: mask(clean(live))})
	}
	return nil
}

// transforms names the transform Plugins that select k, as the stage
// chooses them.
func transforms(ctx context.Context, c client.Client, k *kustomizev1.Kustomization) ([]string, error) {
	var list weirv1alpha1.PluginList
	if err := c.List(ctx, &list, client.InNamespace(k.Namespace)); err != nil {
		if meta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing plugins: %w", err)
	}
	var out []string
	for _, p := range list.Items {
		if p.Spec.Transform == nil || p.Spec.Suspend {
			continue
		}
		if sel := p.Spec.Transform.Selector; sel != nil {
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil || !s.Matches(labels.Set(k.GetLabels())) {
				continue
			}
		}
		out = append(out, p.Namespace+"/"+p.Name)
	}
	return out, nil
}

// awaitsParent reports whether a dry-run failed only because obj's
// namespace or kind is created by this same apply.
func awaitsParent(err error, obj *unstructured.Unstructured, namespaces map[string]bool, kinds map[schema.GroupKind]bool) bool {
	if apierrors.IsNotFound(err) && namespaces[obj.GetNamespace()] {
		return true
	}
	return meta.IsNoMatchError(err) && kinds[obj.GroupVersionKind().GroupKind()]
}
