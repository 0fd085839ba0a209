package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/weir-gitops/weir/conformance/ga"
	console "github.com/weir-gitops/weir/engine/internal/cli"
)

// NewConformanceCmd returns `engine conformance`: the GA API conformance
// suite (package conformance/ga) against whatever implementation serves
// the APIs in a cluster.
func NewConformanceCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		conn          console.Connection
		junit, run    string
		list, verbose bool
		o             ga.Options
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run the GA API conformance suite against a cluster (Weir or Flux)",
		Long: `Runs the black-box conformance suite for GitRepository, Kustomization and
Receiver against the implementation serving them in the cluster the
kubeconfig reaches: Weir, or Flux's own controllers. The suite starts a git
server the implementation must be able to reach (--git-listen-addr,
--git-advertise-host), installs a small CRD (probes.conformance.weir.dev)
and creates one namespace per case, and removes them at the end.

The exit code is non-zero when a case fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return fmt.Errorf("--run: %w", err)
				}
				o.Run = re
			}
			if list {
				for _, c := range ga.Cases() {
					if o.Run == nil || o.Run.MatchString(c.Name) {
						fmt.Fprintf(stdout, "%-50s %s%s\n", c.Name, c.Doc, caseNote(c))
					}
				}
				return nil
			}
			cfg, err := conn.RESTConfig()
			if err != nil {
				return err
			}
			cfg.QPS, cfg.Burst = 50, 100
			if verbose {
				o.Progress = stderr
			}
			report, err := ga.Run(cmd.Context(), rest.AddUserAgent(cfg, "weir-conformance"), o)
			if err != nil {
				return err
			}
			if junit != "" {
				if err := writeJUnit(junit, report.WriteJUnit); err != nil {
					return err
				}
			}
			if err := report.WriteSummary(stdout); err != nil {
				return err
			}
			if n := report.Count(ga.Failed); n > 0 {
				return fmt.Errorf("%d of %d conformance cases failed", n, len(report.Results))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&conn.Kubeconfig, "kubeconfig", "", "Path to the kubeconfig (default $KUBECONFIG, then ~/.kube/config).")
	fs.StringVar(&conn.Context, "context", "", "Kubeconfig context to use (default the current context).")
	fs.StringVar(&junit, "junit", "", "Also write the results as JUnit XML to this file.")
	fs.StringVar(&run, "run", "", "Run only the cases whose name matches this regular expression.")
	fs.BoolVar(&list, "list", false, "List the cases and exit.")
	fs.BoolVarP(&verbose, "verbose", "v", false, "Print each case's result to stderr as it finishes.")
	fs.StringVar(&o.ReceiverURL, "receiver-url", "", "Base URL of the implementation's Receiver endpoint (before /hook/); without it the cases that POST webhooks are skipped.")
	fs.StringVar(&o.ArtifactBaseURL, "artifact-base-url", "", "Replace the scheme and host of artifact URLs with this one when downloading them (e.g. a port-forward to the artifact server).")
	fs.StringVar(&o.GitListenAddr, "git-listen-addr", "127.0.0.1:0", "Address of the suite's git server.")
	fs.StringVar(&o.GitAdvertiseHost, "git-advertise-host", "", "Host[:port] the implementation reaches the git server at (default the listen address).")
	fs.BoolVar(&o.IncludeWeirOnly, "weir-only", false, "Also run the cases that assert Weir's intentional differences from Flux.")
	fs.IntVar(&o.Parallel, "parallel", 8, "Cases to run at once.")
	fs.DurationVar(&o.CaseTimeout, "case-timeout", 2*time.Minute, "Time limit of one case.")
	return cmd
}

func caseNote(c ga.Case) string {
	switch {
	case c.WeirOnly:
		return " [Weir only]"
	case c.NeedsReceiver:
		return " [needs --receiver-url]"
	}
	return ""
}

// writeJUnit writes a report to path with write; the conformance and the
// plugin test commands share it.
func writeJUnit(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}
