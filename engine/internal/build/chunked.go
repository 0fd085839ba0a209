package build

import (
	"fmt"
	"path"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"
)

// kustomize's build is quadratic in the number of resources: every
// resource appended to its resource map, and every one the namespace
// transformer touches, is checked against all the others by ids it
// recomputes from their YAML each time. 5,000 ConfigMaps take half a
// minute; in pieces of a hundred, well under a second.
//
// A build may be cut into pieces only where nothing crosses a piece's
// edge. For a path without a kustomization file (plain YAML, the listing
// generated here) and a spec that asks for at most a target namespace,
// kustomize does per resource: parse, drop local-config resources, set the
// namespace, fix name references (a no-op, no name changes). What crosses
// resources is:
//
//   - the duplicate and id-conflict checks, done here over all pieces;
//   - references that carry a namespace, which kustomize rewrites to the
//     namespace of the referred object found in the build: RoleBinding
//     and ClusterRoleBinding subjects, webhook and APIService services,
//     CRD conversion webhooks, Node config sources, StorageClass secrets;
//     and the renaming of Namespace objects to the target namespace.
//     A build holding any of those kinds is built whole.
//
// Output order is kustomize's without reordering (krusty's default): the
// order of the listing, then of the documents in each file; the pieces
// keep it. Anything unexpected (an error in a piece, a duplicate, a
// crossing kind) builds the whole path as one, so errors read as
// kustomize's and nothing depends on this path being right about them.

// chunkDocs is the documents a piece aims at, and the least a listing must
// hold before it is cut.
const chunkDocs = 100

// crossingKinds are the kinds whose presence builds the path whole.
var crossingKinds = map[string]bool{
	"Namespace": true, "RoleBinding": true, "ClusterRoleBinding": true,
	"ValidatingWebhookConfiguration": true, "MutatingWebhookConfiguration": true,
	"APIService": true, "CustomResourceDefinition": true, "Node": true, "StorageClass": true,
}

// chunked builds a generated listing in pieces; ok is false when it may
// not or did not, and the caller builds it whole.
func chunked(fs filesys.FileSystem, root string, k *kustomizev1.Kustomization, l *listing) ([]*resource.Resource, bool) {
	if l == nil || l.nested || l.docs < 2*chunkDocs || len(l.files) < 2 || !namespaceOnly(k) {
		return nil, false
	}
	var pieces [][]string
	var cur []string
	docs := 0
	for i, f := range l.files {
		cur = append(cur, path.Join("..", "..", root, f))
		docs += l.fileDocs[i]
		if docs >= chunkDocs {
			pieces, cur, docs = append(pieces, cur), nil, 0
		}
	}
	if len(cur) > 0 {
		pieces = append(pieces, cur)
	}
	seen := map[resid.ResId]bool{}
	var out []*resource.Resource
	for i, files := range pieces {
		dir := fmt.Sprintf("/pieces/%d", i)
		data, err := yaml.Marshal(types.Kustomization{
			TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
			Resources: files,
			Namespace: k.Spec.TargetNamespace,
		})
		if err != nil || fs.MkdirAll(dir) != nil || fs.WriteFile(dir+"/kustomization.yaml", data) != nil {
			return nil, false
		}
		m, err := runKustomize(fs, dir)
		if err != nil {
			return nil, false
		}
		for _, r := range m.Resources() {
			id := r.CurId()
			if crossingKinds[id.Kind] || seen[id] {
				return nil, false
			}
			seen[id] = true
			out = append(out, r)
		}
	}
	return out, true
}

// namespaceOnly: the spec asks kustomize for nothing but a target
// namespace (commonMetadata is set after the build).
func namespaceOnly(k *kustomizev1.Kustomization) bool {
	s := k.Spec
	return s.NamePrefix == "" && s.NameSuffix == "" && len(s.Patches) == 0 && len(s.Components) == 0 &&
		len(s.Images) == 0
}
