package kustomization

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/build"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

const (
	// FieldOwner is Flux's field manager, so objects pass between Flux and
	// Weir without conflicts.
	FieldOwner  = apply.FieldOwner
	ownerGroup  = apply.OwnerGroup
	finalizer   = "finalizers.fluxcd.io"
	sourceIndex = ".spec.sourceRef"
	dependIndex = ".spec.dependsOn"
)

// Options configure the Kustomization controller.
type Options struct {
	Concurrent int
	// ConcurrentSSA is how many objects of one Kustomization are read and
	// dry-run at once (Flux's --concurrent-ssa); below 1, one at a time.
	ConcurrentSSA        int
	NoCrossNamespaceRefs bool
	// HTTPClient fetches artifacts that OpenArtifact does not hold.
	HTTPClient *http.Client
	// OpenArtifact reads artifacts of the engine's own storage in
	// process. Nil: every artifact is fetched over HTTP.
	OpenArtifact build.ArtifactOpener
	// NoRemoteBases refuses kustomize references outside the artifact
	// (Flux's --no-remote-bases).
	NoRemoteBases bool
	// StrictSubstitutions fails a build that references a variable no
	// source sets, like Flux's StrictPostBuildSubstitutions feature gate.
	StrictSubstitutions bool
	// DefaultServiceAccount is impersonated, in the Kustomization's own
	// namespace, by Kustomizations that name no spec.serviceAccountName
	// (Flux's --default-service-account).
	DefaultServiceAccount string
	// InsecureKubeConfigExec lets spec.kubeConfig kubeconfigs run exec
	// credential plugins (Flux's --insecure-kubeconfig-exec).
	InsecureKubeConfigExec bool
	// InsecureKubeConfigTLS lets spec.kubeConfig kubeconfigs disable TLS
	// verification (Flux's --insecure-kubeconfig-tls).
	InsecureKubeConfigTLS bool
	// ObjectLevelWorkloadIdentity lets a spec.kubeConfig.configMapRef
	// name the service account whose token reaches the remote cluster
	// (Flux's ObjectLevelWorkloadIdentity feature gate).
	ObjectLevelWorkloadIdentity bool
	// HistoryRefresh is how often a reconcile that changed nothing still
	// rewrites status.history's lastReconciled. Zero: every reconcile, as
	// Flux does.
	HistoryRefresh time.Duration
	// Fingerprints reads live objects from a cache, so objects no one
	// touched since this process applied them are not sent again (see
	// apply.Ledger). Nil: a cache over every namespace.
	Fingerprints apply.LiveFingerprints
	// CacheNamespaces are the namespaces the engine's caches cover (all
	// when empty), for the cache of health verdicts.
	CacheNamespaces []string
	// NoLedger applies every object at every reconcile, as Flux does.
	NoLedger bool
}

// Reconciler reconciles Kustomizations.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	// Plugins serves the verified transform plugins. Nil: transforms off.
	Plugins *wasm.Catalog
	Options
	local     *apply.Cluster // the engine's own cluster and identity
	clusters  clusters       // impersonated accounts and remote clusters
	restCfg   *rest.Config
	runner    *reconcile.Runner[*kustomizev1.Kustomization]
	cache     cache.Cache
	stubs     *apply.HealthStubs
	apiReader client.Reader
	ctrl      controller.Controller
	waits     *apply.Waits[*waitState]
	health    *apply.Health
	ledger    *apply.Ledger
	quiet     quietCounts
	builds    builds
}

// SetupWithManager registers the controller. A new source artifact or a
// dependency becoming ready enqueues the Kustomizations that wait for it at
// once: nothing waits for a poll.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, sourceIndex, func(o client.Object) []string {
		k := o.(*kustomizev1.Kustomization)
		return []string{sourceKey(k)}
	}); err != nil {
		return fmt.Errorf("indexing kustomizations by source: %w", err)
	}
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, dependIndex, func(o client.Object) []string {
		k := o.(*kustomizev1.Kustomization)
		keys := make([]string, 0, len(k.Spec.DependsOn))
		for _, d := range k.Spec.DependsOn {
			ns := d.Namespace
			if ns == "" {
				ns = k.Namespace
			}
			keys = append(keys, ns+"/"+d.Name)
		}
		return keys
	}); err != nil {
		return fmt.Errorf("indexing kustomizations by dependency: %w", err)
	}
	if r.HTTPClient == nil {
		r.HTTPClient = &http.Client{Timeout: 2 * time.Minute}
	}
	r.cache, r.apiReader, r.waits = mgr.GetCache(), mgr.GetAPIReader(), apply.NewWaits[*waitState]()
	stubs, err := apply.NewHealthStubs(mgr, r.CacheNamespaces)
	if err != nil {
		return fmt.Errorf("setting up the health cache: %w", err)
	}
	if err := mgr.Add(stubs); err != nil {
		return err
	}
	r.stubs = stubs
	r.health = &apply.Health{Cache: r.cache, Stubs: stubs, Client: r.Client, Plugins: r.Plugins}
	r.restCfg = mgr.GetConfig()
	if !r.NoLedger {
		r.ledger = apply.NewLedger()
	}
	if r.Fingerprints == nil && !r.NoLedger {
		v, err := apply.NewCachedFingerprints(mgr, nil)
		if err != nil {
			return fmt.Errorf("setting up the applied objects' cache: %w", err)
		}
		if err := mgr.Add(v); err != nil {
			return err
		}
		r.Fingerprints = v
	}
	r.local = apply.NewCluster(mgr.GetClient(), mgr.GetRESTMapper(), apply.ClusterOptions{ID: "local",
		Ledger: r.ledger, Fingerprints: r.Fingerprints, Local: true, Cached: true, Concurrency: r.ConcurrentSSA})
	r.local.Reader = r.apiReader
	r.runner = &reconcile.Runner[*kustomizev1.Kustomization]{
		Client: r.Client, Recorder: r.Recorder, FieldOwner: FieldOwner,
		Handled: func(o *kustomizev1.Kustomization, v string) { o.Status.LastHandledReconcileAt = v },
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&kustomizev1.Kustomization{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.forSource),
			builder.WithPredicates(artifactChanged{})).
		Watches(&kustomizev1.Kustomization{}, handler.EnqueueRequestsFromMapFunc(r.forDependency),
			builder.WithPredicates(readyChanged{}))
	if r.Plugins != nil {
		b = b.Watches(&v1alpha1.Plugin{}, handler.EnqueueRequestsFromMapFunc(r.forPlugin),
			builder.WithPredicates(pluginServing{}))
		// The catalog says when a plugin starts serving in this process,
		// which its status does not show after a restart.
		loaded := make(chan event.GenericEvent, 1024)
		r.Plugins.OnChange(func(k wasm.Key) {
			select {
			case loaded <- event.GenericEvent{Object: &v1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}:
			default:
			}
		})
		b = b.WatchesRawSource(source.Channel(loaded, handler.EnqueueRequestsFromMapFunc(r.forPlugin)))
	}
	c, err := b.WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrent, 1)}).Build(r)
	if err != nil {
		return err
	}
	r.ctrl = c
	return nil
}

// Reconcile applies one Kustomization.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &kustomizev1.Kustomization{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		r.waits.Clear(req.NamespacedName)
		return r.finalize(ctx, obj)
	}
	if err := reconcile.AddFinalizer(ctx, r.Client, obj, finalizer); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.Spec.Suspend {
		r.waits.Clear(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	var s state
	steps := []reconcile.Step[*kustomizev1.Kustomization]{
		r.validate, r.checkDependencies,
		func(ctx context.Context, o *kustomizev1.Kustomization) error { return r.connect(ctx, o, &s) },
		func(ctx context.Context, o *kustomizev1.Kustomization) error { return r.fetch(ctx, o, &s) },
		func(ctx context.Context, o *kustomizev1.Kustomization) error { return r.transform(ctx, o, &s) },
		func(ctx context.Context, o *kustomizev1.Kustomization) error { return r.apply(ctx, o, &s) },
		func(ctx context.Context, o *kustomizev1.Kustomization) error { return r.wait(ctx, o, &s) },
	}
	res, err := r.runner.Run(ctx, obj, steps, func(o *kustomizev1.Kustomization) reconcile.Outcome {
		return reconcile.Outcome{Reason: meta.ReconciliationSucceededReason,
			Message: "Applied revision: " + s.revision, RequeueAfter: o.Spec.Interval.Duration}
	}, r.recordHistory(&s, time.Now()))
	var se *reconcile.Error
	if errors.As(err, &se) && (se.Reason == meta.DependencyNotReadyReason || se.Reason == meta.HealthCheckFailedReason ||
		errors.Is(err, errWaitingForWatch)) {
		// Dependencies enqueue this object when they become ready; a failed
		// health check is retried at the retry interval, as Flux does, not
		// at once (which would re-apply and restart the wait in a loop).
		return ctrl.Result{RequeueAfter: obj.GetRetryInterval()}, nil
	}
	return res, err
}

// errWaitingForWatch marks failures that a watch ends (a source without an
// artifact yet, a transform plugin not serving yet): retrying them with
// backoff would only spin, so they wait for the watch, with the retry
// interval as a safety net.
var errWaitingForWatch = errors.New("waiting for a watch")

// waiting marks err as ended by a watch without changing its message.
func waiting(err error) error { return waitingError{err} }

type waitingError struct{ error }

func (e waitingError) Unwrap() error      { return e.error }
func (waitingError) Is(target error) bool { return target == errWaitingForWatch }

type state struct {
	// resume is set when a waiting Kustomization is requeued by a watch
	// and nothing changed: only health is judged again.
	resume     *waitState
	cluster    *apply.Cluster // where the objects go, and as whom
	revision   string
	transforms []string // plugin@digest that shaped the objects
	digest     string   // of the objects applied, for status.history
	// sums are the manifest digests of objects, when known (a kept build
	// not changed by a transform since).
	sums      apply.Digests
	inventory *kustomizev1.ResourceInventory
	objects   []*unstructured.Unstructured
	applied   object.ObjMetadataSet
	// changed: the apply created, changed or deleted an object.
	changed bool
}

func (r *Reconciler) validate(_ context.Context, o *kustomizev1.Kustomization) error {
	switch {
	case o.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind:
		return reconcile.Stall(meta.ArtifactFailedReason, fmt.Errorf("source kind %s is not supported yet", o.Spec.SourceRef.Kind))
	case r.NoCrossNamespaceRefs && o.Spec.SourceRef.Namespace != "" && o.Spec.SourceRef.Namespace != o.Namespace:
		return reconcile.Stall("AccessDenied", fmt.Errorf("can't access '%s/%s', cross-namespace references have been blocked", o.Spec.SourceRef.Kind, sourceKey(o)))
	case o.Spec.Decryption != nil && o.Spec.Decryption.Provider != "sops":
		return reconcile.Stall(meta.BuildFailedReason, fmt.Errorf("decryption provider %q is not supported, only sops", o.Spec.Decryption.Provider))
	}
	return nil
}

func (r *Reconciler) checkDependencies(ctx context.Context, o *kustomizev1.Kustomization) error {
	if len(o.Spec.DependsOn) == 0 {
		return nil
	}
	// A dependency on the same source must have applied the revision this
	// Kustomization is about to apply, as in Flux: on a new commit the
	// dependents wait for it rather than run ahead on its old revision.
	var revision string
	src := &sourcev1.GitRepository{}
	if err := r.Get(ctx, sourceObjectKey(o), src); err == nil && src.GetArtifact() != nil {
		revision = src.GetArtifact().Revision
	}
	for _, d := range o.Spec.DependsOn {
		ns := d.Namespace
		if ns == "" {
			ns = o.Namespace
		}
		dep := &kustomizev1.Kustomization{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: d.Name}, dep); err != nil {
			return reconcile.Retry(meta.DependencyNotReadyReason, fmt.Errorf("dependency '%s/%s' not found", ns, d.Name))
		}
		if !conditions.IsReady(dep) || dep.Generation != dep.Status.ObservedGeneration {
			return reconcile.Retry(meta.DependencyNotReadyReason, fmt.Errorf("dependency '%s/%s' is not ready", ns, d.Name))
		}
		if revision != "" && sourceObjectKey(dep) == sourceObjectKey(o) && dep.Spec.SourceRef.Kind == o.Spec.SourceRef.Kind &&
			dep.Status.LastAppliedRevision != revision {
			return reconcile.Retry(meta.DependencyNotReadyReason, fmt.Errorf("dependency '%s/%s' revision is not up to date", ns, d.Name))
		}
	}
	return nil
}

func (r *Reconciler) fetch(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	src := &sourcev1.GitRepository{}
	if err := r.Get(ctx, sourceObjectKey(o), src); err != nil {
		return reconcile.Retry(meta.ArtifactFailedReason, fmt.Errorf("Source '%s' not found", sourceKey(o)))
	}
	a := src.GetArtifact()
	if a == nil {
		// The source's watch starts the reconcile again; as in Flux, no
		// warning event for an artifact that is simply not there yet.
		return reconcile.Wait(meta.ArtifactFailedReason, waiting(fmt.Errorf("Source '%s' is not ready, artifact not found", sourceKey(o))))
	}
	s.revision = a.Revision
	o.Status.LastAttemptedRevision = a.Revision
	if ws, ok := r.waits.Get(client.ObjectKeyFromObject(o)); ok && ws.revision == a.Revision &&
		ws.generation == o.Generation && ws.requested == o.Annotations[meta.ReconcileRequestAnnotation] {
		s.resume = ws
		return nil
	}
	key := client.ObjectKeyFromObject(o)
	buildKey, keep := r.buildKey(o, a)
	if keep {
		if b, ok := r.builds.get(key, buildKey); ok {
			s.objects, s.sums, s.digest = b.objs, b.sums, b.digest
			return nil
		}
	}
	fs, err := build.Fetch(ctx, r.HTTPClient, r.OpenArtifact, a.URL, a.Digest)
	if err != nil {
		return reconcile.Retry(meta.ArtifactFailedReason, err)
	}
	dec, err := build.Decryptor(ctx, r.Client, o)
	if err != nil {
		return reconcile.Retry(meta.BuildFailedReason, err)
	}
	objs, err := build.Build(ctx, fs, o, build.Options{Client: r.Client, Decryptor: dec, Strict: r.StrictSubstitutions,
		NoRemoteBases: r.NoRemoteBases})
	if err != nil {
		return reconcile.Retry(meta.BuildFailedReason, err)
	}
	build.Label(objs, o)
	if keep {
		b := r.builds.put(key, buildKey, objs)
		s.sums, s.digest = b.sums, b.digest
	} else {
		r.builds.drop(key)
	}
	s.objects = objs
	return nil
}
