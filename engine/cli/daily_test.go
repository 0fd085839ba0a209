package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// unreachableKubeconfig names an API server nobody listens on, in namespace
// team-a, so each command fails at its first request and the error shows
// which object the flags and arguments resolved to.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: team-a}
current-context: ctx
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func execute(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd := &cobra.Command{Use: "engine", SilenceUsage: true, SilenceErrors: true}
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.AddCommand(NewDailyCmds(&out, &errOut)...)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestDailyCommandsAreListed(t *testing.T) {
	out, _, err := execute("--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"get", "tree", "reconcile", "suspend", "resume", "events"} {
		if !strings.Contains(out, "\n  "+c+" ") {
			t.Errorf("help does not list %q:\n%s", c, out)
		}
	}
}

func TestDailyCommandsResolveKindNamespaceAndName(t *testing.T) {
	kc := unreachableKubeconfig(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "ks"}, "listing kustomizations"},
		{[]string{"get", "kustomizations", "-A"}, "listing kustomizations"},
		{[]string{"get", "sources", "git", "podinfo"}, "getting GitRepository team-a/podinfo"},
		{[]string{"get", "receivers", "hook", "-n", "other"}, "getting Receiver other/hook"},
		{[]string{"get", "all"}, "listing sources"},
		{[]string{"get", "ks", "-o", "wide"}, `unknown output format "wide"`},
		{[]string{"get", "ks", "a", "b"}, "accepts at most 1 arg"},
		{[]string{"tree", "ks", "apps"}, "getting Kustomization team-a/apps"},
		{[]string{"reconcile", "ks", "apps", "--with-source"}, "getting Kustomization team-a/apps"},
		{[]string{"reconcile", "source", "git", "podinfo"}, "getting GitRepository team-a/podinfo"},
		{[]string{"reconcile", "source", "podinfo", "--context", "ctx"}, "getting GitRepository team-a/podinfo"},
		{[]string{"reconcile", "source", "a", "b"}, `want one GitRepository name, got ["a" "b"]`},
		{[]string{"reconcile", "plugin", "labels"}, "getting Plugin team-a/labels"},
		{[]string{"suspend", "receiver", "hook"}, "patching Receiver team-a/hook"},
		{[]string{"resume", "ks", "apps", "--wait=false"}, "patching Kustomization team-a/apps"},
		{[]string{"events", "--for", "apps"}, "want Kind/name"},
		{[]string{"events", "-A"}, "listing events"},
		{[]string{"get", "ks", "--context", "nope"}, `context "nope" does not exist`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := execute(append(tc.args, "--kubeconfig", kc)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
