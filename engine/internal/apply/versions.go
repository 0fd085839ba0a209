package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
)

// Fingerprint is what an object is, apart from its status and the
// bookkeeping every write changes (resourceVersion, generation,
// managedFields): the sha256 of the rest. A status update leaves it as it
// is; any other change of the object changes it.
func Fingerprint(u *unstructured.Unstructured) (string, bool) {
	obj := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		if k != "status" && k != "metadata" {
			obj[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "resourceVersion", "generation", "managedFields":
			default:
				m[k] = v
			}
		}
		obj["metadata"] = m
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", false
	}

	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), true
}

// fingerprintAnnotation carries an object's fingerprint in the cache's
// stub of it; it is never written to the cluster.
const fingerprintAnnotation = "weir.dev/cached-fingerprint"

// CachedFingerprints reads the fingerprints of live objects from informers
// over the objects that carry Flux's owner label
// (kustomize.toolkit.fluxcd.io/name), the only ones the ledger asks about.
// An informer is started the first time a kind is asked for and answers
// once it has synced; until then, and for kinds it cannot list, it does not
// know. The cache keeps a stub of each object (name, namespace,
// fingerprint), so a cached object costs a few hundred bytes whatever its
// size.
type CachedFingerprints struct {
	cache cache.Cache
	mu    sync.Mutex
	// failed kinds could not get an informer (no such kind yet): they are
	// tried again a minute later, as a CRD may have been installed since.
	failed map[schema.GroupVersionKind]time.Time
	// stores of synced informers, read without the copy a cache read makes
	// (the ledger asks for every object of every reconcile).
	stores map[schema.GroupVersionKind]toolscache.Store
	// namespaces the cache covers; nil: all.
	namespaces map[string]bool
	// unsynced kinds did not sync within a Synced wait, and when.
	unsynced map[schema.GroupVersionKind]time.Time
}

// NewCachedFingerprints builds the cache from the manager's cluster, over
// the namespaces given (all when empty). The caller adds it to the
// manager, which starts it.
func NewCachedFingerprints(cl cluster.Cluster, namespaces []string) (*CachedFingerprints, error) {
	req, err := labels.NewRequirement(OwnerGroup+"/name", selection.Exists, nil)
	if err != nil {
		return nil, err
	}
	c, err := stubCache(cl, namespaces, labels.NewSelector().Add(*req), stub)
	if err != nil {
		return nil, err
	}
	f := &CachedFingerprints{cache: c, failed: map[schema.GroupVersionKind]time.Time{},
		stores: map[schema.GroupVersionKind]toolscache.Store{}, unsynced: map[schema.GroupVersionKind]time.Time{}}
	if len(namespaces) > 0 {
		f.namespaces = map[string]bool{}
		for _, ns := range namespaces {
			f.namespaces[ns] = true
		}
	}
	return f, nil
}

// stubCache is an informer cache of the manager's cluster over namespaces
// (all when empty) and the objects sel matches (all when nil), which keeps what
// transform makes of each object.
func stubCache(cl cluster.Cluster, namespaces []string, sel labels.Selector, transform toolscache.TransformFunc) (cache.Cache, error) {
	opts := cache.Options{
		HTTPClient:           cl.GetHTTPClient(),
		Scheme:               cl.GetScheme(),
		Mapper:               cl.GetRESTMapper(),
		DefaultLabelSelector: sel,
		DefaultTransform:     transform,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return cache.New(cl.GetConfig(), opts)
}

// Start runs the informers until ctx is done (manager.Runnable).
func (f *CachedFingerprints) Start(ctx context.Context) error { return f.cache.Start(ctx) }

// stub replaces a cached object by its name and fingerprint. Informers
// may transform an object twice; a stub stays as it is.
func stub(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	if _, done := u.GetAnnotations()[fingerprintAnnotation]; done && len(u.Object) <= 3 {
		return u, nil
	}
	s := &unstructured.Unstructured{}
	s.SetGroupVersionKind(u.GroupVersionKind())
	s.SetNamespace(u.GetNamespace())
	s.SetName(u.GetName())
	s.SetResourceVersion(u.GetResourceVersion())
	if fp, ok := Fingerprint(u); ok {
		s.SetAnnotations(map[string]string{fingerprintAnnotation: fp})
	}
	return s, nil
}

// Fingerprint implements LiveFingerprints. It never blocks on an informer
// that has not synced.
func (f *CachedFingerprints) Fingerprint(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (string, bool) {
	fp, found, known := f.lookup(ctx, gvk, namespace, name)
	return fp, known && found && fp != ""
}

// Absent implements AbsentObjects: the kind's informer has synced, covers
// the namespace and holds no such object. The informer holds only objects
// with Flux's owner label, so an object without it counts as absent: the
// caller must check (an apply's dry-run says whether an object exists).
func (f *CachedFingerprints) Absent(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) bool {
	if f.namespaces != nil && namespace != "" && !f.namespaces[namespace] {
		return false
	}
	_, found, known := f.lookup(ctx, gvk, namespace, name)
	return known && !found
}

// Synced implements AbsentObjects: it starts the kind's informer and waits
// until it has synced or ctx is done.
func (f *CachedFingerprints) Synced(ctx context.Context, gvk schema.GroupVersionKind) bool {
	f.mu.Lock()
	store := f.stores[gvk]
	f.mu.Unlock()
	if store != nil {
		return true
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	inf, err := f.cache.GetInformer(ctx, u, cache.BlockUntilSynced(false))
	if err != nil {
		return false
	}
	// A kind that did not sync in one wait (the engine may not list it)
	// is not waited for again for a minute: every apply would pay the wait.
	f.mu.Lock()
	at, slow := f.unsynced[gvk]
	f.mu.Unlock()
	if slow && time.Since(at) < time.Minute {
		return inf.HasSynced()
	}
	if toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return true
	}
	f.mu.Lock()
	f.unsynced[gvk] = time.Now()
	f.mu.Unlock()
	return false
}

// lookup reads namespace/name's stub: its fingerprint, whether the cache
// holds it and whether the cache knows (synced, namespace covered).
func (f *CachedFingerprints) lookup(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (fp string, found, known bool) {
	f.mu.Lock()
	at, failed := f.failed[gvk]
	store := f.stores[gvk]
	f.mu.Unlock()
	if store != nil {
		fp, found := storedFingerprint(store, namespace, name)
		return fp, found, true
	}
	if failed && time.Since(at) < time.Minute {
		return "", false, false
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	inf, err := f.cache.GetInformer(ctx, u, cache.BlockUntilSynced(false))
	if err != nil {
		f.mu.Lock()
		f.failed[gvk] = time.Now()
		f.mu.Unlock()
		return "", false, false
	}
	if failed {
		f.mu.Lock()
		delete(f.failed, gvk)
		f.mu.Unlock()
	}
	if !inf.HasSynced() {
		return "", false, false
	}
	// One informer over all namespaces (or one) has a store keyed
	// namespace/name; over several namespaces it has none.
	if s, ok := inf.(interface{ GetStore() toolscache.Store }); ok {
		f.mu.Lock()
		f.stores[gvk] = s.GetStore()
		f.mu.Unlock()
		fp, found := storedFingerprint(s.GetStore(), namespace, name)
		return fp, found, true
	}
	switch err := f.cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); {
	case err == nil:
		return u.GetAnnotations()[fingerprintAnnotation], true, true
	case apierrors.IsNotFound(err):
		return "", false, true
	default:
		// A namespace the cache does not cover, for one.
		return "", false, false
	}
}

// storedFingerprint reads the fingerprint of namespace/name from an
// informer's store of stubs, and whether the store holds it. The stub is
// shared: it is only read.
func storedFingerprint(s toolscache.Store, namespace, name string) (string, bool) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	item, ok, err := s.GetByKey(key)
	if err != nil || !ok {
		return "", false
	}
	u, ok := item.(*unstructured.Unstructured)
	if !ok {
		return "", true
	}
	return u.GetAnnotations()[fingerprintAnnotation], true
}
