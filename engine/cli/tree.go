package cli

import (
	"io"

	"github.com/spf13/cobra"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

func newTreeCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags  clusterFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "tree",
		Short: "Show the objects a Kustomization applied, from its inventory, like flux tree",
	}
	flags.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().StringVarP(&output, "output", "o", string(console.FormatTable), "Output format: table (a tree), json or yaml.")
	cmd.AddCommand(&cobra.Command{
		Use:     "kustomization NAME",
		Aliases: []string{"ks", "kustomizations"},
		Short:   "Show a Kustomization's inventory as a tree; Kustomizations in it are expanded in turn",
		Example: "  engine tree ks apps -n flux-system",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := console.ParseFormat(output)
			if err != nil {
				return err
			}
			c, ns, err := flags.console(stdout, stderr)
			if err != nil {
				return err
			}
			root, err := c.Tree(cmd.Context(), ns, args[0])
			if err != nil {
				return err
			}
			return c.PrintTree(root, format)
		},
	})
	return cmd
}
