package build

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

// source lays files out under SrcRoot in a new in-memory file system.
func source(t testing.TB, files map[string]string) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	if err := fs.MkdirAll(SrcRoot); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := fs.WriteFile(SrcRoot+"/"+name, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// both builds the source in pieces and whole. ok: the pieces were taken.
func both(t testing.TB, files map[string]string, k *kustomizev1.Kustomization) (pieces, whole string, ok bool, wholeErr error) {
	t.Helper()
	fs := source(t, files)
	l, err := generate(fs, SrcRoot)
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := chunked(fs, SrcRoot, k, l)
	dec, _ := decrypt.New(nil)
	ws, wholeErr := wholeBuild(fs, SrcRoot, k, true, dec)
	return render(t, rs), render(t, ws), ok, wholeErr
}

func render(t testing.TB, rs []*resource.Resource) string {
	t.Helper()
	var sb strings.Builder
	for _, r := range rs {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString("---\n")
		sb.Write(b)
	}
	return sb.String()
}

// many is n documents of kind each, one file a hundred.
func many(prefix string, n int, doc func(i int) string) map[string]string {
	files := map[string]string{}
	var sb strings.Builder
	for i := range n {
		sb.WriteString("---\n" + doc(i))
		if i%100 == 99 || i == n-1 {
			files[fmt.Sprintf("%s-%03d.yaml", prefix, i/100)] = sb.String()
			sb.Reset()
		}
	}
	return files
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func configMapDoc(i int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\ndata:\n  k: v\n", i)
}

// mixed is a spread of kinds kustomize treats differently: cluster-scoped
// ones, a namespace already set, a custom resource, a List, a local-config
// object (dropped), empty documents, workloads whose references carry no
// namespace.
func mixed(i int) string {
	switch i % 9 {
	case 0:
		return fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cr-%d\nrules: []\n", i)
	case 1:
		return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s-%d\n  namespace: elsewhere\nstringData:\n  a: b\n", i)
	case 2:
		return fmt.Sprintf("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w-%d\nspec:\n  size: %d\n", i, i)
	case 3:
		return fmt.Sprintf("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: svc-%d\n  spec:\n    ports:\n    - port: 80\n", i)
	case 4:
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-%d\n  annotations:\n    config.kubernetes.io/local-config: \"true\"\n", i)
	case 5:
		return "# only a comment\n"
	case 6:
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d-%d\nspec:\n  selector:\n    matchLabels: {app: d}\n  template:\n    metadata:\n      labels: {app: d}\n    spec:\n      serviceAccountName: sa-%d\n      containers:\n      - name: c\n        image: nginx:1\n        envFrom:\n        - configMapRef:\n            name: cm-%d\n", i, i, i)
	case 7:
		return fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa-%d\n", i-1)
	default:
		return fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: in-%d\nspec:\n  rules:\n  - http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: svc-%d\n            port: {number: 80}\n", i, i)
	}
}

func TestChunkedBuildMatchesWhole(t *testing.T) {
	withNS := func(ns string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{}
		k.Spec.TargetNamespace = ns
		return k
	}
	// kustomize points the subject at the account's new namespace, across
	// files: the pieces would not.
	rb := map[string]string{
		"aa-account.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: bot\n  namespace: old\n",
		"zz-rbac.yaml":    "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: r\nsubjects:\n- kind: ServiceAccount\n  name: bot\n  namespace: old\n",
	}
	cases := []struct {
		name      string
		files     map[string]string
		k         *kustomizev1.Kustomization
		pieces    bool
		wholeFail bool
	}{
		{name: "configmaps, target namespace", files: many("cm", 300, configMapDoc), k: withNS("apps"), pieces: true},
		{name: "configmaps, no target namespace", files: many("cm", 300, configMapDoc), k: withNS(""), pieces: true},
		{name: "mixed kinds", files: many("mix", 360, mixed), k: withNS("apps"), pieces: true},
		{name: "mixed kinds in a subdirectory", files: merge(many("a/mix", 300, mixed), many("b/cm", 300, configMapDoc)), k: withNS("apps"), pieces: true},
		{name: "too few documents", files: many("cm", 150, configMapDoc), k: withNS("apps")},
		{name: "a role binding's subjects follow the build", files: merge(many("mix", 300, mixed), rb), k: withNS("apps")},
		{name: "a name prefix", files: many("cm", 300, configMapDoc), k: func() *kustomizev1.Kustomization {
			k := withNS("apps")
			k.Spec.NamePrefix = "p-"
			return k
		}()},
		{name: "a duplicate across files", files: merge(many("cm", 300, configMapDoc), map[string]string{"zz-dup.yaml": configMapDoc(7)}),
			k: withNS("apps"), wholeFail: true},
		{name: "a conflict the namespace makes", files: merge(many("cm", 300, configMapDoc),
			map[string]string{"zz-dup.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0007\n  namespace: apps\n"}),
			k: withNS("apps"), wholeFail: true},
		{name: "invalid YAML in one file", files: merge(many("cm", 300, configMapDoc), map[string]string{"zz-bad.yaml": "kind: [\n"}),
			k: withNS("apps"), wholeFail: true},
		{name: "a nested kustomization", files: merge(many("cm", 300, configMapDoc),
			map[string]string{"sub/kustomization.yaml": "resources: []\n"}), k: withNS("apps")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pieces, whole, ok, wholeErr := both(t, tc.files, tc.k)
			if ok != tc.pieces {
				t.Fatalf("built in pieces: %v, want %v", ok, tc.pieces)
			}
			if (wholeErr != nil) != tc.wholeFail {
				t.Fatalf("whole build error: %v, want failure %v", wholeErr, tc.wholeFail)
			}
			if ok && pieces != whole {
				t.Fatalf("pieces and whole differ:\n%s", firstDifference(pieces, whole))
			}
			if ok && strings.Count(pieces, "\n---\n")+1 < 100 {
				t.Fatalf("too few objects built: %d", strings.Count(pieces, "\n---\n")+1)
			}
		})
	}
}

func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: pieces %q, whole %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

// FuzzChunkedBuild: whenever the build in pieces is taken, the whole build
// succeeds and gives the same output. The input is three files' worth of
// YAML next to 200 ConfigMaps (so that the pieces are tried). An execution
// takes a good part of a second, so keep the minimization short:
//
//	go test -run '^$' -fuzz FuzzChunkedBuild -fuzztime 2m -fuzzminimizetime 5x ./engine/internal/build/
func FuzzChunkedBuild(f *testing.F) {
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", "", "", "apps")
	f.Add(mixed(3), mixed(6), mixed(1), "apps")
	f.Add(mixed(0)+"---\n"+mixed(7), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n", mixed(4), "")
	f.Add(configMapDoc(3), "apiVersion: v1\nkind: List\nitems: []\n", "---\n---\n", "apps")
	f.Add("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-0001\n  namespace: apps\n", "", "", "apps")
	base := many("cm", 200, configMapDoc)
	f.Fuzz(func(t *testing.T, a, b, c, ns string) {
		files := merge(base, map[string]string{"x-a.yaml": a, "x-b.yaml": b, "x-c.yaml": c})
		k := &kustomizev1.Kustomization{}
		k.Spec.TargetNamespace = ns
		var pieces, whole string
		var ok bool
		var wholeErr error
		func() {
			// kustomize panics on some input; Build turns that into an
			// error, and so does this.
			defer func() {
				if p := recover(); p != nil {
					ok, wholeErr = false, fmt.Errorf("%v", p)
				}
			}()
			pieces, whole, ok, wholeErr = both(t, files, k)
		}()
		if !ok {
			return
		}
		if wholeErr != nil {
			t.Fatalf("pieces built, whole failed: %v", wholeErr)
		}
		if pieces != whole {
			t.Fatalf("pieces and whole differ:\n%s", firstDifference(pieces, whole))
		}
	})
}

// TestGenerateListsKustomizationDirectories: in a path without a
// kustomization file, a directory with one is a resource built by it (the
// layout flux bootstrap writes: clusters/<name>/flux-system), not a pile
// of YAML files.
func TestGenerateListsKustomizationDirectories(t *testing.T) {
	fs := source(t, map[string]string{
		"apps.yaml":                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"flux-system/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- sync.yaml\n",
		"flux-system/sync.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sync\n",
		"flux-system/unlisted.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unlisted\n",
	})
	k := &kustomizev1.Kustomization{}
	k.Spec.Path = "./"
	dec, _ := decrypt.New(nil)
	out, err := Build(context.Background(), fs, k, Options{Decryptor: dec, NoRemoteBases: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range out {
		got = append(got, u.GetKind()+"/"+u.GetName())
	}
	if want := []string{"ConfigMap/app", "ConfigMap/sync"}; !slices.Equal(got, want) {
		t.Fatalf("built %v, want %v", got, want)
	}
}
