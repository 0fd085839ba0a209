package kustomization

import (
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/weir-gitops/weir/engine/internal/apply"
)

func TestBuildKey(t *testing.T) {
	a := &meta.Artifact{Digest: "sha256:aa"}
	base := func() *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{}
		k.UID, k.Generation = "u1", 3
		return k
	}
	r := &Reconciler{Options: Options{NoRemoteBases: true}}
	want, ok := r.buildKey(base(), a)
	if !ok {
		t.Fatal("a plain build is not kept")
	}
	for _, tc := range []struct {
		name   string
		change func(k *kustomizev1.Kustomization, r *Reconciler, a *meta.Artifact)
		keep   bool
	}{
		{"generation", func(k *kustomizev1.Kustomization, _ *Reconciler, _ *meta.Artifact) { k.Generation = 4 }, true},
		{"uid", func(k *kustomizev1.Kustomization, _ *Reconciler, _ *meta.Artifact) { k.UID = "u2" }, true},
		{"artifact", func(_ *kustomizev1.Kustomization, _ *Reconciler, a *meta.Artifact) { a.Digest = "sha256:bb" }, true},
		{"substituteFrom", func(k *kustomizev1.Kustomization, _ *Reconciler, _ *meta.Artifact) {
			k.Spec.PostBuild = &kustomizev1.PostBuild{SubstituteFrom: []kustomizev1.SubstituteReference{{Kind: "ConfigMap", Name: "vars"}}}
		}, false},
		{"decryption", func(k *kustomizev1.Kustomization, _ *Reconciler, _ *meta.Artifact) {
			k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops"}
		}, false},
		{"remote bases", func(_ *kustomizev1.Kustomization, r *Reconciler, _ *meta.Artifact) { r.NoRemoteBases = false }, false},
	} {
		k, rr, aa := base(), &Reconciler{Options: Options{NoRemoteBases: true}}, &meta.Artifact{Digest: a.Digest}
		tc.change(k, rr, aa)
		got, ok := rr.buildKey(k, aa)
		if ok != tc.keep || (ok && got == want) {
			t.Errorf("%s: key %q kept %v; want kept %v and a new key", tc.name, got, ok, tc.keep)
		}
	}
}

// A kept build comes back as new objects each time: what a transform or an
// apply changes does not reach the cache.
func TestBuildsGetIsACopy(t *testing.T) {
	var b builds
	k := types.NamespacedName{Namespace: "n", Name: "k"}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "a"}, "data": map[string]any{"n": "1"}}}
	b.put(k, "key", []*unstructured.Unstructured{u})
	u.Object["data"] = map[string]any{"n": "changed"}
	gb, ok := b.get(k, "key")
	got := gb.objs
	if !ok || len(got) != 1 || got[0].Object["data"].(map[string]any)["n"] != "1" {
		t.Fatalf("got %v %v", got, ok)
	}
	got[0].SetName("renamed")
	again, _ := b.get(k, "key")
	if again.objs[0].GetName() != "a" {
		t.Fatal("a change to a returned object reached the cache")
	}
	if _, ok := b.get(k, "other"); ok {
		t.Fatal("a build came back for another key")
	}
	b.drop(k)
	if _, ok := b.get(k, "key"); ok {
		t.Fatal("a dropped build came back")
	}
}

// The digests kept with a build are those the ledger and status.history
// would compute from the objects it hands out, so a reconcile of a kept
// build can skip computing them: for the objects as built and as decoded
// again, numbers and characters JSON escapes included.
func TestBuildsDigestsMatchTheObjects(t *testing.T) {
	var b builds
	k := types.NamespacedName{Namespace: "n", Name: "k"}
	objs := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "annotations": map[string]any{"note": "<a & b>"}},
			"spec": map[string]any{"replicas": int64(3), "ratio": 1.5, "big": float64(1e21), "whole": float64(2),
				"list": []any{"x", int64(1), true, nil, map[string]any{"z": "é"}}}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}},
	}
	for _, from := range []string{"put", "get"} {
		var got built
		if from == "put" {
			got = b.put(k, "key", objs)
		} else {
			var ok bool
			if got, ok = b.get(k, "key"); !ok {
				t.Fatal("the build was not kept")
			}
		}
		if len(got.objs) != len(objs) || len(got.sums) != len(objs) {
			t.Fatalf("%s: %d objects, %d digests", from, len(got.objs), len(got.sums))
		}
		for _, u := range got.objs {
			want, ok := apply.Digest(u)
			if !ok || got.sums[u] != want {
				t.Errorf("%s: %s: kept digest %x, the object's is %x", from, u.GetName(), got.sums[u], want)
			}
		}
		if want := buildDigest(got.objs); got.digest != want {
			t.Errorf("%s: kept build digest %s, the objects' is %s", from, got.digest, want)
		}
	}
}
