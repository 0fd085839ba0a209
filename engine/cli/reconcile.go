package cli

import (
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

const defaultWaitTimeout = 5 * time.Minute

// kindCommands adds one subcommand per kind to parent; run gets a connected
// Console, the kind and the object's key.
func kindCommands(parent *cobra.Command, flags *clusterFlags, stdout, stderr io.Writer, short string, run func(*cobra.Command, *console.Console, console.Kind, types.NamespacedName) error) {
	for _, k := range console.Kinds() {
		use := k.Singular + " NAME"
		if k.Singular == "source" {
			use = "source [git] NAME"
		}
		parent.AddCommand(&cobra.Command{
			Use:     use,
			Aliases: append([]string{k.Plural}, k.Aliases...),
			Short:   short + " a " + k.Kind,
			Args:    cobra.RangeArgs(1, 2),
			RunE: func(cmd *cobra.Command, args []string) error {
				name, err := objectName(k, args)
				if err != nil {
					return err
				}
				c, ns, err := flags.console(stdout, stderr)
				if err != nil {
					return err
				}
				return run(cmd, c, k, types.NamespacedName{Namespace: ns, Name: name})
			},
		})
	}
}

func newReconcileCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags      clusterFlags
		timeout    time.Duration
		withSource bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Ask for a reconciliation now and wait for it, like flux reconcile",
		Long: `Set the reconcile.fluxcd.io/requestedAt annotation to the current time and wait until the
controller reports it in status.lastHandledReconcileAt with a known Ready condition. Exits non-zero
when Ready is False, when the object is suspended, or on timeout.`,
		Example: `  engine reconcile ks apps --with-source
  engine reconcile source git podinfo -n flux-system`,
	}
	flags.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().DurationVar(&timeout, "timeout", defaultWaitTimeout, "How long to wait for the reconciliation.")
	kindCommands(cmd, &flags, stdout, stderr, "Reconcile", func(cmd *cobra.Command, c *console.Console, k console.Kind, key types.NamespacedName) error {
		if withSource && k.Singular == "kustomization" {
			return c.ReconcileWithSource(cmd.Context(), key, timeout)
		}
		return c.Reconcile(cmd.Context(), k, key, timeout)
	})
	for _, sub := range cmd.Commands() {
		if sub.Name() == "kustomization" {
			sub.Flags().BoolVar(&withSource, "with-source", false, "Reconcile the Kustomization's GitRepository first.")
		}
	}
	return cmd
}

func newSuspendCmd(stdout, stderr io.Writer) *cobra.Command {
	var flags clusterFlags
	cmd := &cobra.Command{
		Use:     "suspend",
		Short:   "Stop reconciling an object by setting spec.suspend, like flux suspend",
		Example: "  engine suspend ks apps",
	}
	flags.bind(cmd.PersistentFlags())
	kindCommands(cmd, &flags, stdout, stderr, "Suspend", func(cmd *cobra.Command, c *console.Console, k console.Kind, key types.NamespacedName) error {
		return c.Suspend(cmd.Context(), k, key)
	})
	return cmd
}

func newResumeCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		flags   clusterFlags
		timeout time.Duration
		wait    bool
	)
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Clear spec.suspend, request a reconciliation and wait for it, like flux resume",
		Example: `  engine resume ks apps
  engine resume source podinfo --wait=false`,
	}
	flags.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().DurationVar(&timeout, "timeout", defaultWaitTimeout, "How long to wait for the reconciliation.")
	cmd.PersistentFlags().BoolVar(&wait, "wait", true, "Wait for the reconciliation that resuming requests.")
	kindCommands(cmd, &flags, stdout, stderr, "Resume", func(cmd *cobra.Command, c *console.Console, k console.Kind, key types.NamespacedName) error {
		return c.Resume(cmd.Context(), k, key, wait, timeout)
	})
	return cmd
}
