package kustomization

import (
	"encoding/json"
	"strconv"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// builds keeps the last build of each Kustomization, so a reconcile of the
// same artifact and spec does not fetch, untar and run kustomize again.
// kustomize's build is quadratic in the number of objects (5,000 objects
// take tens of seconds), and at every interval it would be most of a quiet
// reconcile's cost.
//
// A build is reused only when its inputs are all named by the key: the
// artifact's digest and the Kustomization's uid and generation. Builds that read
// anything else are never kept: postBuild.substituteFrom (ConfigMaps and
// Secrets change without the Kustomization changing), decryption (its key
// Secret may rotate), and remote bases when they are allowed. Objects are
// kept as JSON, decoded afresh for each use (transforms and the apply
// change them), and a build over maxCachedBuild bytes is not kept.
type builds struct {
	mu sync.Mutex
	m  map[types.NamespacedName]cachedBuild
}

type cachedBuild struct {
	key  string
	objs [][]byte
}

const maxCachedBuild = 32 << 20

// buildKey is the key of o's build of a, and whether it may be kept.
func (r *Reconciler) buildKey(o *kustomizev1.Kustomization, a *meta.Artifact) (string, bool) {
	if !r.NoRemoteBases || o.Spec.Decryption != nil || (o.Spec.PostBuild != nil && len(o.Spec.PostBuild.SubstituteFrom) > 0) {
		return "", false
	}
	if a.Digest == "" {
		return "", false
	}
	return string(o.UID) + "/" + a.Digest + "/" + strconv.FormatInt(o.Generation, 10), true
}

func (b *builds) get(k types.NamespacedName, key string) ([]*unstructured.Unstructured, bool) {
	b.mu.Lock()
	c, ok := b.m[k]
	b.mu.Unlock()
	if !ok || c.key != key {
		return nil, false
	}
	out := make([]*unstructured.Unstructured, 0, len(c.objs))
	for _, raw := range c.objs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, false
		}
		out = append(out, u)
	}
	return out, true
}

func (b *builds) put(k types.NamespacedName, key string, objs []*unstructured.Unstructured) {
	raw := make([][]byte, 0, len(objs))
	size := 0
	for _, u := range objs {
		j, err := json.Marshal(u.Object)
		if err != nil {
			b.drop(k)
			return
		}
		if size += len(j); size > maxCachedBuild {
			b.drop(k)
			return
		}
		raw = append(raw, j)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[types.NamespacedName]cachedBuild{}
	}
	b.m[k] = cachedBuild{key: key, objs: raw}
}

func (b *builds) drop(k types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}
