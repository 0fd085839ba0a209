package cli

import (
	"io"
	"strings"

	"github.com/spf13/cobra"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

func newGetCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags  clusterFlags
		all    bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show sources, kustomizations, receivers and plugins with their readiness, like flux get",
		Long: `Show objects as a table with their revision, whether they are suspended and their Ready
condition, like flux get. -o json or -o yaml prints the same summary for scripts; use kubectl for
whole objects. Colour is used only when stdout is a terminal and NO_COLOR is not set.`,
		Example: `  engine get ks
  engine get sources git -A
  engine get all -n flux-system -o yaml`,
	}
	flags.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().BoolVarP(&all, "all-namespaces", "A", false, "List in all namespaces, with a NAMESPACE column.")
	cmd.PersistentFlags().StringVarP(&output, "output", "o", string(console.FormatTable), "Output format: table, json or yaml.")

	run := func(cmd *cobra.Command, kinds []console.Kind, name string) error {
		format, err := console.ParseFormat(output)
		if err != nil {
			return err
		}
		c, ns, err := flags.console(stdout, stderr)
		if err != nil {
			return err
		}
		return c.Get(cmd.Context(), console.GetQuery{Kinds: kinds, Namespace: ns, AllNamespaces: all, Name: name, Format: format})
	}
	for _, k := range console.Kinds() {
		use := k.Plural + " [NAME]"
		if k.Singular == "source" {
			use = k.Plural + " [git|all] [NAME]"
		}
		cmd.AddCommand(&cobra.Command{
			Use:     use,
			Aliases: append([]string{k.Singular}, k.Aliases...),
			Short:   "Show " + k.Kind + " objects",
			Args:    cobra.MaximumNArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				if k.Singular == "source" && len(args) > 0 && (strings.EqualFold(args[0], "git") || strings.EqualFold(args[0], "all")) {
					args = args[1:]
				}
				if len(args) > 1 {
					return cobra.MaximumNArgs(1)(cmd, args)
				}
				name := ""
				if len(args) == 1 {
					name = args[0]
				}
				return run(cmd, []console.Kind{k}, name)
			},
		})
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "all",
		Short: "Show objects of every kind, one table per kind",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return run(cmd, console.Kinds(), "") },
	})
	return cmd
}
