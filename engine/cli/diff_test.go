package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestDiffExitStatus checks the kubectl diff convention for errors: the
// differences found (1) and none (0) are covered by the envtest test of
// engine/internal/diff, which the command only prints.
func TestDiffExitStatus(t *testing.T) {
	kc := unreachableKubeconfig(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diff", "ks", "apps"}, "getting Kustomization team-a/apps"},
		{[]string{"diff", "ks", "apps", "-n", "other"}, "getting Kustomization other/apps"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := &cobra.Command{Use: "engine", SilenceUsage: true, SilenceErrors: true}
			root.AddCommand(NewDiffCmd(&out, &errOut))
			root.SetArgs(append(tc.args, "--kubeconfig", kc))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := root.ExecuteContext(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if code := ExitCode(err); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
		})
	}
	if code := ExitCode(&ExitError{Code: 1}); code != 1 {
		t.Errorf("differences: exit status %d, want 1", code)
	}
}
