package gitrepository

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// includeIndex indexes GitRepositories by the names of the GitRepositories
// they include, so that a new artifact rebuilds its includers at once.
const includeIndex = "weir.dev/gitrepository-include"

// Reasons of the IncludeUnavailable condition and of include failures.
const (
	includeNotFoundReason   = "NotFound"
	includeNoArtifactReason = "NoArtifact"
	includeCycleReason      = "IncludeCycle"
	illegalPathReason       = "IllegalPath"
	copyFailureReason       = "CopyFailure"
)

// maxIncludeDepth bounds the walk that looks for include cycles.
const maxIncludeDepth = 32

func indexIncludes(o client.Object) []string {
	g, ok := o.(*sourcev1.GitRepository)
	if !ok || len(g.Spec.Include) == 0 {
		return nil
	}
	names := make([]string, 0, len(g.Spec.Include))
	for _, in := range g.Spec.Include {
		names = append(names, in.GitRepositoryRef.Name)
	}
	return names
}

// includers maps a GitRepository to the GitRepositories of its namespace
// that include it.
func (r *Reconciler) includers(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	return reconcile.Requests(ctx, r, &sourcev1.GitRepositoryList{}, client.InNamespace(o.GetNamespace()), client.MatchingFields{includeIndex: o.GetName()})
}

// artifactChanged passes updates that change a GitRepository's artifact,
// and deletions, which make the includes of others unavailable.
func artifactChanged() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			prev, ok1 := e.ObjectOld.(*sourcev1.GitRepository)
			next, ok2 := e.ObjectNew.(*sourcev1.GitRepository)
			if !ok1 || !ok2 {
				return false
			}
			return !sameArtifact(prev.Status.Artifact, next.Status.Artifact)
		},
	}
}

func sameArtifact(a, b *meta.Artifact) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Digest == b.Digest && a.Revision == b.Revision
}

// cleanRelPath turns a path of spec.include into a clean slash path inside
// the artifact ("" for its root), refusing paths that climb out of it.
func cleanRelPath(p string) (string, error) {
	c := path.Clean(strings.TrimSpace(p))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path '%s' is outside the artifact", p)
	}
	c = strings.TrimPrefix(c, "/")
	if c == "." {
		c = ""
	}
	return c, nil
}

// validateIncludes refuses include paths that leave the artifact and
// includes that lead back to this GitRepository.
func (r *Reconciler) validateIncludes(ctx context.Context, o *sourcev1.GitRepository) error {
	for _, in := range o.Spec.Include {
		for _, p := range []string{in.GetFromPath(), in.GetToPath()} {
			if _, err := cleanRelPath(p); err != nil {
				return reconcile.Stall(illegalPathReason, fmt.Errorf("path calculation for include '%s' failed: %w", in.GitRepositoryRef.Name, err))
			}
		}
	}
	if chain := r.includeCycle(ctx, o); chain != nil {
		return reconcile.Stall(includeCycleReason, fmt.Errorf("include cycle: %s", strings.Join(chain, " -> ")))
	}
	return nil
}

// includeCycle walks the include graph from o through the cache and
// returns the chain of names if it leads back to o.
func (r *Reconciler) includeCycle(ctx context.Context, o *sourcev1.GitRepository) []string {
	seen := map[string]bool{}
	var walk func(name string, chain []string) []string
	walk = func(name string, chain []string) []string {
		if name == o.Name && len(chain) > 0 {
			return append(chain, name)
		}
		if seen[name] || len(chain) > maxIncludeDepth {
			return nil
		}
		seen[name] = true
		includes := o.Spec.Include
		if len(chain) > 0 {
			var g sourcev1.GitRepository
			if err := r.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: name}, &g); err != nil {
				return nil
			}
			includes = g.Spec.Include
		}
		for _, in := range includes {
			if c := walk(in.GitRepositoryRef.Name, append(chain[:len(chain):len(chain)], name)); c != nil {
				return c
			}
		}
		return nil
	}
	return walk(o.Name, nil)
}

// resolveIncludes reads the artifacts of the included GitRepositories,
// index for index with spec.include. A missing one marks the object
// IncludeUnavailable; it is retried, and rebuilt as soon as the included
// GitRepository gets an artifact.
func (r *Reconciler) resolveIncludes(ctx context.Context, o *sourcev1.GitRepository, s *state) error {
	if len(o.Spec.Include) == 0 {
		conditions.Delete(o, sourcev1.IncludeUnavailableCondition)
		return nil
	}
	s.includes = make([]*meta.Artifact, len(o.Spec.Include))
	for i, in := range o.Spec.Include {
		name := in.GitRepositoryRef.Name
		var dep sourcev1.GitRepository
		if err := r.Get(ctx, types.NamespacedName{Namespace: o.Namespace, Name: name}, &dep); err != nil {
			reason := includeNotFoundReason
			if !apierrors.IsNotFound(err) {
				reason = meta.DependencyNotReadyReason
			}
			err = fmt.Errorf("could not get resource for include '%s': %w", name, err)
			conditions.MarkTrue(o, sourcev1.IncludeUnavailableCondition, reason, "%s", err.Error())
			return reconcile.Retry(reason, err)
		}
		if dep.Status.Artifact == nil {
			err := fmt.Errorf("no artifact available for include '%s'", name)
			conditions.MarkTrue(o, sourcev1.IncludeUnavailableCondition, includeNoArtifactReason, "%s", err.Error())
			return reconcile.Retry(includeNoArtifactReason, err)
		}
		s.includes[i] = dep.Status.Artifact.DeepCopy()
	}
	conditions.Delete(o, sourcev1.IncludeUnavailableCondition)
	return nil
}

// includesCurrent reports whether the stored artifact was built from the
// same includes and included artifacts.
func includesCurrent(o *sourcev1.GitRepository, current []*meta.Artifact) bool {
	if len(o.Spec.Include) != len(o.Status.ObservedInclude) || len(current) != len(o.Status.IncludedArtifacts) {
		return false
	}
	for i, in := range o.Spec.Include {
		seen := o.Status.ObservedInclude[i]
		if in.GitRepositoryRef != seen.GitRepositoryRef || in.FromPath != seen.FromPath || in.ToPath != seen.ToPath {
			return false
		}
		if !sameArtifact(current[i], o.Status.IncludedArtifacts[i]) {
			return false
		}
	}
	return true
}

// copyIncludes copies each included artifact's fromPath into toPath of
// the checkout, in spec order; later includes overwrite earlier files.
func (r *Reconciler) copyIncludes(ctx context.Context, o *sourcev1.GitRepository, s *state) error {
	if s.upToDate {
		return nil
	}
	for i, in := range o.Spec.Include {
		from, _ := cleanRelPath(in.GetFromPath())
		to, _ := cleanRelPath(in.GetToPath())
		if err := r.Storage.CopyToPath(ctx, s.includes[i], from, s.dir, to); err != nil {
			err = fmt.Errorf("failed to copy '%s' include from %s to %s: %w", in.GitRepositoryRef.Name, in.GetFromPath(), in.GetToPath(), err)
			conditions.MarkTrue(o, sourcev1.StorageOperationFailedCondition, copyFailureReason, "%s", err.Error())
			return reconcile.Retry(copyFailureReason, err)
		}
	}
	return nil
}
