package gitrepository

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
	"github.com/weir-gitops/weir/engine/internal/source/git"
)

// FieldOwner is the field manager of status patches, as Flux names it.
const FieldOwner = "source-controller"

// Options configure the GitRepository controller.
type Options struct {
	Concurrent int
	// ArtifactRetention is how many artifacts of each object are kept.
	ArtifactRetention int
	// JitterPercent spreads requeues of objects with the same interval.
	JitterPercent int
	// TempDir is where checkouts are made; empty means os.TempDir.
	TempDir string
	// Selector picks the GitRepositories this replica owns (its shard);
	// nil means all. The cache holds the others too, for the
	// Kustomizations that consume them, but they are never reconciled here.
	Selector labels.Selector
}

// Reconciler reconciles GitRepositories.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Fetcher  Fetcher
	Storage  Storage
	Options
	runner *reconcile.Runner[*sourcev1.GitRepository]
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	r.runner = &reconcile.Runner[*sourcev1.GitRepository]{
		Client: r.Client, Recorder: r.Recorder, FieldOwner: FieldOwner,
		Handled: func(o *sourcev1.GitRepository, v string) { o.Status.LastHandledReconcileAt = v },
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.GitRepository{}, includeIndex, indexIncludes); err != nil {
		return fmt.Errorf("indexing GitRepository includes: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		// A label change may move the source into this shard.
		For(&sourcev1.GitRepository{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}),
			predicate.NewPredicateFuncs(r.owns))).
		// Another shard's source whose artifacts this replica still holds
		// (it moved shards, or was deleted) is cleaned up.
		Watches(&sourcev1.GitRepository{}, &handler.EnqueueRequestForObject{},
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
				return !r.owns(o) && r.Storage.Holds(sourcev1.GitRepositoryKind, o.GetNamespace(), o.GetName())
			}))).
		// A new artifact rebuilds the GitRepositories that include it at
		// once, rather than at their next interval.
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.includers),
			builder.WithPredicates(artifactChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrent, 1)}).
		Complete(r)
}

// Reconcile brings one GitRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &sourcev1.GitRepository{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone while another shard owned it: that shard's finalizer
			// removed its artifacts, not the copies this replica kept.
			return ctrl.Result{}, r.dropStale(ctx, req.NamespacedName, nil)
		}
		return ctrl.Result{}, err
	}
	if !r.owns(obj) {
		// Another shard's source, reached by a requeue, an include, or a
		// move out of this shard.
		return ctrl.Result{}, r.dropStale(ctx, req.NamespacedName, obj)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, obj)
	}
	if err := reconcile.AddFinalizer(ctx, r.Client, obj, sourcev1.SourceFinalizer); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	timeout := time.Minute
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	stepCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var s state
	defer func() {
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	}()
	steps := []reconcile.Step[*sourcev1.GitRepository]{
		r.validate,
		func(ctx context.Context, o *sourcev1.GitRepository) error { return r.resolveIncludes(ctx, o, &s) },
		func(_ context.Context, o *sourcev1.GitRepository) error { return r.fetch(stepCtx, o, &s) },
		func(ctx context.Context, o *sourcev1.GitRepository) error { return r.verifyStep(ctx, o, &s) },
		func(_ context.Context, o *sourcev1.GitRepository) error { return r.copyIncludes(stepCtx, o, &s) },
		func(_ context.Context, o *sourcev1.GitRepository) error { return r.store(stepCtx, o, &s) },
	}
	return r.runner.Run(ctx, obj, steps, func(o *sourcev1.GitRepository) reconcile.Outcome {
		msg := fmt.Sprintf("stored artifact for revision '%s'", o.Status.Artifact.Revision)
		conditions.MarkTrue(o, sourcev1.ArtifactInStorageCondition, meta.SucceededReason, "%s", msg)
		// A new artifact's NewArtifact event says it already, as the one
		// event source-controller records.
		return reconcile.Outcome{Reason: meta.SucceededReason, Message: msg, RequeueAfter: r.jitter(o.Spec.Interval.Duration),
			Announced: s.announced}
	})
}

// dropStale removes this replica's artifacts of a source it does not own,
// once no one can be reading them: the source is gone, or its status
// names no artifact of this replica's (the new owner has published its
// own). Until then Kustomizations may still fetch the old URL.
func (r *Reconciler) dropStale(ctx context.Context, key types.NamespacedName, o *sourcev1.GitRepository) error {
	if r.Storage == nil || !r.Storage.Holds(sourcev1.GitRepositoryKind, key.Namespace, key.Name) {
		return nil
	}
	if o != nil && o.Status.Artifact != nil && r.Storage.Serves(o.Status.Artifact) {
		return nil
	}
	ctrl.LoggerFrom(ctx).Info("removing the artifacts of a source this replica does not own")
	return r.Storage.Remove(sourcev1.GitRepositoryKind, key.Namespace, key.Name)
}

// owns reports whether o belongs to this replica's shard.
func (r *Reconciler) owns(o client.Object) bool {
	return r.Selector == nil || r.Selector.Matches(labels.Set(o.GetLabels()))
}

// state carries what one reconcile found from step to step.
type state struct {
	dir      string
	revision string
	upToDate bool
	// announced: a NewArtifact event was recorded.
	announced bool
	checkout  git.Checkout
	// includes are the included artifacts, index for index with
	// spec.include.
	includes []*meta.Artifact
}

func (r *Reconciler) validate(ctx context.Context, o *sourcev1.GitRepository) error {
	if err := git.CheckURL(o.Spec.URL); err != nil {
		return reconcile.Stall(sourcev1.URLInvalidReason, err)
	}
	if err := git.CheckSparseDirs(o.Spec.SparseCheckout); err != nil {
		return reconcile.Stall(illegalPathReason, err)
	}
	return r.validateIncludes(ctx, o)
}

func (r *Reconciler) fetch(ctx context.Context, o *sourcev1.GitRepository, s *state) error {
	req, err := r.fetchRequest(ctx, o)
	if err != nil {
		return failFetch(o, sourcev1.AuthenticationFailedReason, err)
	}
	// Without a stored artifact there is nothing to compare the remote's
	// head with: go straight to the checkout, one request to the remote
	// fewer for every new source.
	var latest string
	if r.Storage.Has(o.Status.Artifact) {
		if latest, err = r.Fetcher.Latest(ctx, req); err != nil {
			return failFetch(o, sourcev1.GitOperationFailedReason, fmt.Errorf("failed to resolve the reference: %w", err))
		}
	}
	if latest != "" && r.artifactCurrent(o, latest, s.includes) {
		s.revision, s.upToDate = latest, true
		conditions.Delete(o, sourcev1.FetchFailedCondition)
		return nil
	}
	dir, err := os.MkdirTemp(r.TempDir, "gitrepository-")
	if err != nil {
		return reconcile.Retry(sourcev1.DirCreationFailedReason, fmt.Errorf("creating a checkout directory: %w", err))
	}
	s.dir = dir
	c, err := r.Fetcher.Checkout(ctx, dir, req)
	if err != nil {
		return failFetch(o, sourcev1.GitOperationFailedReason, fmt.Errorf("failed to checkout and determine revision: %w", err))
	}
	s.revision, s.checkout = c.Revision, c
	conditions.Delete(o, sourcev1.FetchFailedCondition)
	return nil
}

func (r *Reconciler) store(ctx context.Context, o *sourcev1.GitRepository, s *state) error {
	if s.upToDate {
		return nil
	}
	ignore := ""
	if o.Spec.Ignore != nil {
		ignore = *o.Spec.Ignore
	}
	a, err := r.Storage.Archive(ctx, sourcev1.GitRepositoryKind, o.Namespace, o.Name, s.dir, ignore, s.revision)
	if err != nil {
		conditions.MarkTrue(o, sourcev1.StorageOperationFailedCondition, sourcev1.ArchiveOperationFailedReason, "%s", err.Error())
		return reconcile.Retry(sourcev1.ArchiveOperationFailedReason, fmt.Errorf("archiving the checkout: %w", err))
	}
	changed := o.Status.Artifact == nil || o.Status.Artifact.Digest != a.Digest || o.Status.Artifact.Revision != a.Revision
	o.Status.Artifact = a
	o.Status.ObservedIgnore = o.Spec.Ignore
	o.Status.ObservedRecurseSubmodules = o.Spec.RecurseSubmodules
	o.Status.ObservedSparseCheckout = o.Spec.SparseCheckout
	o.Status.ObservedInclude = o.Spec.Include
	o.Status.IncludedArtifacts = s.includes
	conditions.Delete(o, sourcev1.StorageOperationFailedCondition)
	conditions.Delete(o, sourcev1.ArtifactOutdatedCondition)
	if err := r.Storage.GC(sourcev1.GitRepositoryKind, o.Namespace, o.Name, max(r.ArtifactRetention, 1)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collecting artifacts")
	}
	s.announced = changed
	if changed && r.Recorder != nil {
		r.Recorder.AnnotatedEventf(o, map[string]string{"source.toolkit.fluxcd.io/revision": a.Revision},
			corev1.EventTypeNormal, "NewArtifact", "stored artifact for revision '%s'", a.Revision)
	}
	return nil
}

// artifactCurrent reports whether the stored artifact already is latest
// with the same ignore rules, checkout options and included artifacts,
// and was verified as spec.verify asks.
func (r *Reconciler) artifactCurrent(o *sourcev1.GitRepository, latest string, includes []*meta.Artifact) bool {
	a := o.Status.Artifact
	if a == nil || a.Revision != latest || !r.Storage.Has(a) {
		return false
	}
	return ptrEqual(o.Spec.Ignore, o.Status.ObservedIgnore) &&
		o.Spec.RecurseSubmodules == o.Status.ObservedRecurseSubmodules &&
		slices.Equal(git.SparseDirs(o.Spec.SparseCheckout), git.SparseDirs(o.Status.ObservedSparseCheckout)) &&
		includesCurrent(o, includes) && verifiedFor(o)
}

func (r *Reconciler) fetchRequest(ctx context.Context, o *sourcev1.GitRepository) (git.Request, error) {
	req := git.Request{URL: o.Spec.URL, RecurseSubmodules: o.Spec.RecurseSubmodules, SparseCheckout: o.Spec.SparseCheckout}
	if ref := o.Spec.Reference; ref != nil {
		req.Reference = git.Reference{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.SemVer, Name: ref.Name, Commit: ref.Commit}
	}
	if o.Spec.SecretRef != nil {
		data, err := r.secretData(ctx, o.Namespace, o.Spec.SecretRef.Name)
		if err != nil {
			return req, err
		}
		req.Auth = data
	}
	if o.Spec.ProxySecretRef != nil {
		data, err := r.secretData(ctx, o.Namespace, o.Spec.ProxySecretRef.Name)
		if err != nil {
			return req, err
		}
		u, err := url.Parse(string(data["address"]))
		if err != nil || u.Host == "" {
			return req, fmt.Errorf("invalid proxy secret '%s/%s': 'address' is not a URL", o.Namespace, o.Spec.ProxySecretRef.Name)
		}
		if user := string(data["username"]); user != "" {
			u.User = url.UserPassword(user, string(data["password"]))
		}
		req.ProxyURL = u.String()
	}
	// A Secret that cannot make credentials is a configuration error, not
	// a git one: report it before talking to the remote.
	if err := git.CheckAuth(req); err != nil {
		return req, fmt.Errorf("failed to configure authentication options: %w", err)
	}
	return req, nil
}

func (r *Reconciler) secretData(ctx context.Context, ns, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("failed to get secret '%s/%s': %w", ns, name, err)
	}
	return s.Data, nil
}

func (r *Reconciler) finalize(ctx context.Context, o *sourcev1.GitRepository) (ctrl.Result, error) {
	if err := r.Storage.Remove(sourcev1.GitRepositoryKind, o.Namespace, o.Name); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing artifacts: %w", err)
	}
	return ctrl.Result{}, reconcile.RemoveFinalizer(ctx, r.Client, o, sourcev1.SourceFinalizer)
}

func (r *Reconciler) jitter(interval time.Duration) time.Duration {
	if r.JitterPercent <= 0 || interval <= 0 {
		return interval
	}
	spread := int64(interval) * int64(r.JitterPercent) / 100
	return interval + time.Duration(rand.Int64N(2*spread+1)-spread)
}

func failFetch(o *sourcev1.GitRepository, reason string, err error) error {
	conditions.MarkTrue(o, sourcev1.FetchFailedCondition, reason, "%s", err.Error())
	return reconcile.Retry(reason, err)
}

func ptrEqual(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
