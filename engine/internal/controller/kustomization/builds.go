package kustomization

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/weir-gitops/weir/engine/internal/apply"
)

// builds keeps the last build of each Kustomization, so a reconcile of the
// same artifact and spec does not fetch, untar and run kustomize again.
// kustomize's build is quadratic in the number of objects (5,000 objects
// take tens of seconds built whole, a second for plain YAML built in
// pieces), builds run one at a time in the process, and at every interval
// a build would be most of a quiet reconcile's cost.
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
	// sums are the manifest digests of objs (apply.Digest: the sha256 of
	// each JSON), digest their buildDigest; computed once, when kept.
	sums   [][sha256.Size]byte
	digest string
}

// built is a build's objects with what is known of them: the manifest
// digest of each (for the ledger) and of the whole (status.history). Both
// hold only while the objects are as built; a transform that changes them
// drops them.
type built struct {
	objs   []*unstructured.Unstructured
	sums   apply.Digests
	digest string
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

func (b *builds) get(k types.NamespacedName, key string) (built, bool) {
	b.mu.Lock()
	c, ok := b.m[k]
	b.mu.Unlock()
	if !ok || c.key != key {
		return built{}, false
	}
	out := built{objs: make([]*unstructured.Unstructured, 0, len(c.objs)), sums: make(apply.Digests, len(c.objs)), digest: c.digest}
	for i, raw := range c.objs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return built{}, false
		}
		out.objs = append(out.objs, u)
		out.sums[u] = c.sums[i]
	}
	return out, true
}

// put keeps objs under key when they are small enough, and returns them
// with their digests either way.
func (b *builds) put(k types.NamespacedName, key string, objs []*unstructured.Unstructured) built {
	out := built{objs: objs, sums: make(apply.Digests, len(objs))}
	c := cachedBuild{key: key, objs: make([][]byte, 0, len(objs)), sums: make([][sha256.Size]byte, 0, len(objs))}
	whole := sha256.New()
	size := 0
	for _, u := range objs {
		j, err := json.Marshal(u.Object)
		if err != nil {
			b.drop(k)
			return built{objs: objs}
		}
		sum := sha256.Sum256(j)
		out.sums[u] = sum
		// buildDigest's encoding: each object's JSON and a newline.
		whole.Write(j)
		whole.Write([]byte{'\n'})
		size += len(j)
		c.objs = append(c.objs, j)
		c.sums = append(c.sums, sum)
	}
	out.digest = "sha256:" + hex.EncodeToString(whole.Sum(nil))
	c.digest = out.digest
	if size > maxCachedBuild {
		b.drop(k)
		return out
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[types.NamespacedName]cachedBuild{}
	}
	b.m[k] = c
	return out
}

func (b *builds) drop(k types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.m, k)
}
