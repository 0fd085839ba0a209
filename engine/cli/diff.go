package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/diff"
	"github.com/weir-gitops/weir/engine/internal/scheme"
)

// ExitError asks main to exit with Code, printing Err when it is not nil.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// NewDiffCmd returns `engine diff ks NAME`: what the next reconciliation of
// a Kustomization would change, from a server-side dry-run. Like kubectl
// diff it exits with 0 when nothing would change, 1 when something would
// and 2 on an error.
func NewDiffCmd(stdout, stderr io.Writer) *cobra.Command {
	var flags clusterFlags
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what the next reconciliation would change, from a server-side dry-run",
	}
	flags.bind(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks", "kustomizations"},
		Short:   "Diff a Kustomization's current source artifact against the cluster",
		Long: `Fetch the Kustomization's current source artifact (digest checked), build it as the
engine does, and dry-run a server-side apply of each object as kustomize-controller.
Prints a unified diff per object that would change (live against dry-run result, without
managedFields, resourceVersion, generation and status), the objects that would be
created, and those of the inventory that would be pruned. Secret values are masked.
Exit status: 0 no differences, 1 differences, 2 error.`,
		Example: "  engine diff ks apps -n flux-system",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed, err := runDiff(cmd, flags, args[0], stdout, stderr)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if changed {
				return &ExitError{Code: 1}
			}
			return nil
		},
	})
	return cmd
}

func runDiff(cmd *cobra.Command, flags clusterFlags, name string, stdout, stderr io.Writer) (bool, error) {
	cfg, ns, err := flags.conn.Config()
	if err != nil {
		return false, err
	}
	s, err := scheme.New()
	if err != nil {
		return false, err
	}
	kube, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return false, fmt.Errorf("creating the client: %w", err)
	}
	fetch, err := diff.NewFetcher(cfg)
	if err != nil {
		return false, err
	}
	res, err := diff.Kustomization(cmd.Context(), ns, name, diff.Options{Client: kube, Fetch: fetch})
	if err != nil {
		return false, err
	}
	for _, p := range res.Transforms {
		fmt.Fprintf(stderr, "! transform plugin %s selects this Kustomization; diff does not run plugins, so its changes show as differences\n", p)
	}
	if err := res.Write(stdout); err != nil {
		return false, err
	}
	return res.HasChanges(), nil
}

// ExitCode is the status main exits with for err.
func ExitCode(err error) int {
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return 1
}
