package build

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  a: b\n"

// TestNoRemoteBases builds trees with remote references, with and without
// NoRemoteBases: with it, nothing is fetched and the build names the
// reference; without it, kustomize fetches as Flux's default allows.
func TestNoRemoteBases(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(strings.ReplaceAll(configMap, "%s", "remote")))
	}))
	t.Cleanup(srv.Close)
	remote := srv.URL + "/cm.yaml"
	local := strings.ReplaceAll(configMap, "%s", "local")

	tests := []struct {
		name    string
		files   map[string]string
		refused string // the reference named in the error; empty: builds
	}{
		{"local files, a base and a generator", map[string]string{
			"app/kustomization.yaml":  "resources: [cm.yaml, ../base]\nconfigMapGenerator:\n- name: gen\n  files: [k=data.txt]\n",
			"app/cm.yaml":             local,
			"app/data.txt":            "v",
			"base/kustomization.yaml": "resources: [cm.yaml]\nnamePrefix: base-\n",
			"base/cm.yaml":            local,
		}, ""},
		{"an HTTP resource", map[string]string{
			"app/kustomization.yaml": "resources: [" + remote + "]\n",
		}, remote},
		{"a git base without a scheme", map[string]string{
			"app/kustomization.yaml": "resources:\n- github.com/org/repo//deploy?ref=v1\n",
		}, "github.com/org/repo//deploy?ref=v1"},
		{"an ssh git base", map[string]string{
			"app/kustomization.yaml": "bases:\n- git@github.com:org/repo.git//deploy\n",
		}, "git@github.com:org/repo.git//deploy"},
		{"a remote reference in a local base", map[string]string{
			"app/kustomization.yaml":  "resources: [../base]\n",
			"base/kustomization.yaml": "resources: [" + remote + "]\n",
		}, remote},
		{"a remote generator file", map[string]string{
			"app/kustomization.yaml": "configMapGenerator:\n- name: gen\n  files: [k=" + remote + "]\n",
		}, remote},
		{"a component outside the source", map[string]string{
			"app/kustomization.yaml": "components: [../../../etc]\n",
		}, "../../../etc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			objs, err := Build(context.Background(), memFS(t, tt.files), ks("./app"), Options{Decryptor: noKeys(t), NoRemoteBases: true})
			if tt.refused == "" {
				if err != nil || len(objs) == 0 {
					t.Fatalf("build: %d objects, %v", len(objs), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "remote bases are disabled") || !strings.Contains(err.Error(), tt.refused) {
				t.Fatalf("error %v, want one refusing %q", err, tt.refused)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("the remote server was asked %d times", n)
			}
		})
	}

	// Without the flag an HTTP resource is fetched, as Flux does by default.
	hits.Store(0)
	objs, err := Build(context.Background(), memFS(t, tests[1].files), ks("./app"), Options{Decryptor: noKeys(t)})
	if err != nil || len(objs) != 1 || objs[0].GetName() != "remote" || hits.Load() == 0 {
		t.Fatalf("without NoRemoteBases: %d objects, %d requests, %v", len(objs), hits.Load(), err)
	}
}

func memFS(t *testing.T, files map[string]string) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for name, content := range files {
		p := path.Join(SrcRoot, name)
		if err := fs.MkdirAll(path.Dir(p)); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func ks(p string) *kustomizev1.Kustomization {
	k := &kustomizev1.Kustomization{}
	k.Name, k.Namespace, k.Spec.Path = "app", "default", p
	return k
}

func noKeys(t *testing.T) *decrypt.Decryptor {
	t.Helper()
	d, err := decrypt.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
