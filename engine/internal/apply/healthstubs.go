package apply

import (
	"context"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
)

// HealthStubs is an informer cache over the objects Kustomizations wait on
// that keeps of each object only its kstatus verdict, computed from the
// whole object when it arrives. A wait on 1000 Deployments then holds 1000
// small stubs instead of 1000 Deployments with their pod templates. A
// health plugin or a healthCheckExprs expression needs the whole object:
// those kinds are read from the engine's full cache (Health.Cache).
type HealthStubs struct {
	cache cache.Cache
}

// In-memory only: the annotations a stub carries its verdict in. They are
// never written to the cluster.
const (
	stubStatusAnnotation  = "weir.dev/cached-health-status"
	stubMessageAnnotation = "weir.dev/cached-health-message"
)

// NewHealthStubs builds the cache from the manager's cluster, over the
// namespaces given (all when empty). The caller adds it to the manager,
// which starts it.
func NewHealthStubs(cl cluster.Cluster, namespaces []string) (*HealthStubs, error) {
	c, err := stubCache(cl, namespaces, nil, healthStub)
	if err != nil {
		return nil, err
	}
	return &HealthStubs{cache: c}, nil
}

// Start runs the informers until ctx is done (manager.Runnable).
func (h *HealthStubs) Start(ctx context.Context) error { return h.cache.Start(ctx) }

// Cache is the stubs' cache, for watches on the kinds waited on.
func (h *HealthStubs) Cache() cache.Cache { return h.cache }

// Verdict reads the verdict of the object key of kind gvk. The first read
// of a kind starts its informer and waits for it to sync; an object that
// is not there is a NotFound error.
func (h *HealthStubs) Verdict(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (Verdict, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := h.cache.Get(ctx, key, u); err != nil {
		return Verdict{}, err
	}
	a := u.GetAnnotations()
	return Verdict{Status: status.Status(a[stubStatusAnnotation]), Message: a[stubMessageAnnotation]}, nil
}

// healthStub replaces a cached object by its identity and kstatus verdict.
// Informers may transform an object twice; a stub stays as it is.
func healthStub(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	if _, done := u.GetAnnotations()[stubStatusAnnotation]; done && len(u.Object) <= 3 {
		return u, nil
	}
	v := Verdict{Status: status.UnknownStatus}
	if res, err := status.Compute(u); err != nil {
		v.Message = err.Error()
	} else {
		v = Verdict{Status: res.Status, Message: res.Message}
	}
	s := &unstructured.Unstructured{}
	s.SetGroupVersionKind(u.GroupVersionKind())
	s.SetNamespace(u.GetNamespace())
	s.SetName(u.GetName())
	s.SetResourceVersion(u.GetResourceVersion())
	s.SetAnnotations(map[string]string{stubStatusAnnotation: string(v.Status), stubMessageAnnotation: v.Message})
	return s, nil
}
