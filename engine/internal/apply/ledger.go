package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// When nothing changes, applying every object of every Kustomization at
// every interval is most of the engine's API traffic: fluxcd/pkg/ssa reads
// each object and dry-runs it to find drift, two requests an object. The
// ledger avoids both for objects nobody touched.
//
// It remembers, for each object this process applied or found unchanged
// (per cluster and identity), a digest of the manifest and the
// fingerprint of the object as the API server returned it: everything but
// its status and write bookkeeping (see Fingerprint). When the manifest's
// digest is the recorded one and the live object's fingerprint, read from
// an informer cache, is still the recorded one, the object is as the last
// apply left it apart from its status, which an apply never sets: it has
// not drifted, and it is not sent. Everything else takes the full path
// through ssa: a new object, a changed manifest, any change of the object
// outside its status (a kubectl edit, a label removed, another controller
// writing a field), an object the cache does not hold, a cluster without a
// cache (a remote one) and the first reconcile after a restart.
//
// The cache follows the cluster by a watch, a few milliseconds behind: a
// change made in those milliseconds before a reconcile is corrected by the
// next one.

// LiveFingerprints reads the fingerprints of live objects without a
// request to the API server. ok is false when it does not know (not cached,
// not synced yet).
type LiveFingerprints interface {
	Fingerprint(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (fp string, ok bool)
}

// Ledger is the record of what was applied and the fingerprint the API
// server returned for it.
// It is safe for concurrent use.
type Ledger struct {
	mu sync.Mutex
	m  map[string]ledgerEntry
}

type ledgerEntry struct {
	digest [sha256.Size]byte
	fp     string
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{m: map[string]ledgerEntry{}} }

func ledgerKey(cluster string, m object.ObjMetadata) string { return cluster + "|" + m.String() }

// Digest is the manifest's fingerprint: the sha256 of its JSON encoding.
// encoding/json sorts map keys, so equal manifests have equal digests.
func Digest(u *unstructured.Unstructured) ([sha256.Size]byte, bool) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(b), true
}

// unchanged splits objs into those the ledger proves untouched since this
// process last applied them (as change set entries) and the rest, with the
// digests of the rest for record. known holds digests already computed.
func (l *Ledger) unchanged(ctx context.Context, cluster string, v LiveFingerprints, objs []*unstructured.Unstructured, known Digests) (same []ssa.ChangeSetEntry, rest []*unstructured.Unstructured, digests map[string][sha256.Size]byte) {
	digests = map[string][sha256.Size]byte{}
	asked := map[schema.GroupVersionKind]bool{}
	for _, u := range objs {
		// Asking starts the kind's informer, so that it has synced by the
		// next reconcile even when the ledger knows nothing yet.
		if gvk := u.GroupVersionKind(); !asked[gvk] {
			asked[gvk] = true
			_, _ = v.Fingerprint(ctx, gvk, u.GetNamespace(), u.GetName())
		}
		m := object.UnstructuredToObjMetadata(u)
		d, ok := known[u]
		if !ok {
			d, ok = Digest(u)
		}
		if !ok {
			rest = append(rest, u)
			continue
		}
		key := ledgerKey(cluster, m)
		l.mu.Lock()
		e, known := l.m[key]
		l.mu.Unlock()
		if known && e.digest == d {
			if fp, ok := v.Fingerprint(ctx, u.GroupVersionKind(), u.GetNamespace(), u.GetName()); ok && fp == e.fp {
				same = append(same, ssa.ChangeSetEntry{ObjMetadata: m, GroupVersion: u.GroupVersionKind().Version,
					Subject: utils.FmtUnstructured(u), Action: ssa.UnchangedAction})
				continue
			}
		}
		digests[key] = d
		rest = append(rest, u)
	}
	return same, rest, digests
}

// record notes the fingerprints seen by a successful apply of the objects
// of cs: of the object the apply returned, or for an unchanged object of
// the one the dry-run was compared against.
func (l *Ledger) record(cluster string, cs *ssa.ChangeSet, digests map[string][sha256.Size]byte, seen *seenVersions) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range cs.Entries {
		key := ledgerKey(cluster, e.ObjMetadata)
		d, ok := digests[key]
		fp := seen.get(e.ObjMetadata.String())
		switch {
		case !ok || fp == "" || (e.Action != ssa.CreatedAction && e.Action != ssa.ConfiguredAction && e.Action != ssa.UnchangedAction):
			delete(l.m, key)
		default:
			l.m[key] = ledgerEntry{digest: d, fp: fp}
		}
	}
}

// forget drops the entries of objs, which were deleted.
func (l *Ledger) forget(cluster string, objs []*unstructured.Unstructured) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range objs {
		delete(l.m, ledgerKey(cluster, object.UnstructuredToObjMetadata(u)))
	}
}

// Len is the number of objects recorded.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// seenVersions collects, for one apply, the fingerprint of the last
// version of each object the API server returned: from the reads and the
// (non dry-run) applies that fluxcd/pkg/ssa makes through a
// recordingClient.
type seenVersions struct {
	mu sync.Mutex
	m  map[string]string
}

type seenKey struct{}

func withSeen(ctx context.Context) (context.Context, *seenVersions) {
	s := &seenVersions{m: map[string]string{}}
	return context.WithValue(ctx, seenKey{}, s), s
}

func (s *seenVersions) get(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func noteSeen(ctx context.Context, obj client.Object) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetResourceVersion() == "" {
		return
	}
	s, ok := ctx.Value(seenKey{}).(*seenVersions)
	if !ok {
		return
	}
	fp, ok := Fingerprint(u)
	if !ok {
		return
	}
	s.mu.Lock()
	s.m[object.UnstructuredToObjMetadata(u).String()] = fp
	s.mu.Unlock()
}

// recordingClient is the client fluxcd/pkg/ssa works through: it notes
// the fingerprints of what it reads and applies for the ledger.
type recordingClient struct{ client.Client }

func (c recordingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	if err == nil {
		noteSeen(ctx, obj)
	}
	return err
}

func (c recordingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	err := c.Client.Patch(ctx, obj, patch, opts...)
	if err == nil {
		po := &client.PatchOptions{}
		po.ApplyOptions(opts)
		if len(po.DryRun) == 0 {
			noteSeen(ctx, obj)
		}
	}
	return err
}
