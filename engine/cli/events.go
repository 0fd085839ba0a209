package cli

import (
	"io"

	"github.com/spf13/cobra"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

func newEventsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags clusterFlags
		q     console.EventQuery
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the Kubernetes events of sources, kustomizations, receivers and plugins, newest last",
		Example: `  engine events -n flux-system
  engine events --for ks/apps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ns, err := flags.console(stdout, stderr)
			if err != nil {
				return err
			}
			q.Namespace = ns
			return c.PrintEvents(cmd.Context(), q)
		},
	}
	flags.bind(cmd.Flags())
	cmd.Flags().BoolVarP(&q.AllNamespaces, "all-namespaces", "A", false, "List in all namespaces, with a NAMESPACE column.")
	cmd.Flags().StringVar(&q.For, "for", "", "Only the events of this object, as Kind/name (e.g. Kustomization/apps or ks/apps).")
	return cmd
}
