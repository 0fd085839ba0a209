package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

const buildKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: team}
spec:
  interval: 5m
  path: ./apps
  prune: true
  targetNamespace: prod
  sourceRef: {kind: GitRepository, name: repo}
  postBuild:
    substitute: {greeting: hello}
`

func TestBuildCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(p, body string) {
		t.Helper()
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ks.yaml", buildKustomization)
	write("not-ks.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	write("repo/apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  text: ${greeting}\n")
	write("repo/apps/web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n")
	plugins := t.TempDir()
	for _, n := range []string{"add-labels", "deny-latest-tag"} {
		if err := os.WriteFile(filepath.Join(plugins, n+".wasm"), testenv.ExamplePlugin(t, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := NewBuildCmd(&out)
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	ks, repo := filepath.Join(dir, "ks.yaml"), filepath.Join(dir, "repo")

	t.Run("build, substitution and a transform", func(t *testing.T) {
		g := NewWithT(t)
		out, err := run(ks, "--path", repo, "--plugin", filepath.Join(plugins, "add-labels.wasm"), "--plugin-config", "team=platform")
		g.Expect(err).NotTo(HaveOccurred(), out)
		g.Expect(out).To(ContainSubstring("text: hello"))
		g.Expect(out).To(ContainSubstring("namespace: prod"))
		g.Expect(out).To(ContainSubstring("team: platform"))
		g.Expect(out).To(ContainSubstring("\n---\n"))
	})
	t.Run("a policy transform refuses the build", func(t *testing.T) {
		g := NewWithT(t)
		_, err := run(ks, "--path", repo, "--plugin", filepath.Join(plugins, "deny-latest-tag.wasm"))
		g.Expect(err).To(MatchError(ContainSubstring(`Deployment/web: container "web" uses image "nginx"`)))
	})
	t.Run("not a Kustomization", func(t *testing.T) {
		_, err := run(filepath.Join(dir, "not-ks.yaml"), "--path", repo)
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("not a Kustomization")))
	})
	t.Run("a bad plugin config", func(t *testing.T) {
		_, err := run(ks, "--path", repo, "--plugin", filepath.Join(plugins, "add-labels.wasm"), "--plugin-config", "novalue")
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("want KEY=VALUE")))
	})
}
