package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weir-gitops/weir/engine"
	"github.com/weir-gitops/weir/engine/cli"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "engine",
		Short:         "Weir: Flux's GitOps APIs in one binary, extensible with Wasm plugins",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w (see --help)", err)
	})
	root.AddCommand(newRunCmd(stderr), newDevCmd(stdout, stderr), newVersionCmd(stdout),
		cli.NewPluginCmd(stdout, stderr), cli.NewConformanceCmd(stdout, stderr))
	root.AddCommand(cli.NewDailyCmds(stdout, stderr)...)
	root.AddCommand(cli.NewBuildCmd(stdout), cli.NewDiffCmd(stdout, stderr))
	return root
}

func newRunCmd(stderr io.Writer) *cobra.Command {
	cfg := engine.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the controllers against a cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration: %w", err)
			}
			log := engine.NewLogger(cfg.LogLevel, cfg.LogFormat, stderr)
			ctrl.SetLogger(log)
			e, err := engine.New(cfg, log)
			if err != nil {
				return err
			}
			return e.Start(cmd.Context())
		},
	}
	cfg.BindFlags(cmd.Flags())
	return cmd
}

func newDevCmd(stdout, stderr io.Writer) *cobra.Command {
	dc := engine.DefaultDevConfig()
	var logFile string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Start a local kube-apiserver and etcd, install the CRDs and run the engine against them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := stderr
			if logFile != "" {
				if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
					return err
				}
				f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					return fmt.Errorf("opening --log-file: %w", err)
				}
				defer f.Close()
				logOut = f
				fmt.Fprintf(stdout, "► engine logs go to %s\n", logFile)
			}
			log := engine.NewLogger(dc.LogLevel, dc.LogFormat, logOut)
			ctrl.SetLogger(log)
			dc.Out = stdout
			dc.Ready = func(path string) {
				fmt.Fprintf(stdout, "\nWeir dev control plane is ready.\n  kubeconfig: %s\n  try:        kubectl --kubeconfig %s get gitrepositories,kustomizations,receivers,plugins -A\n  stop:       Ctrl-C\n\n", path, path)
			}
			return engine.Dev(cmd.Context(), dc, log)
		},
	}
	dc.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&logFile, "log-file", "", "Write the engine's logs to this file instead of stderr (the demo's narration stays on stdout).")
	cmd.Flags().StringVar(&dc.KubeconfigOut, "kubeconfig-out", dc.KubeconfigOut, "Write the kubeconfig here once the API server is ready (default <data-dir>/kubeconfig).")
	cmd.Flags().StringVar(&dc.DataDir, "data-dir", dc.DataDir, "Directory for etcd's data and the artifacts; reused on the next start.")
	cmd.Flags().BoolVar(&dc.Demo, "demo", dc.Demo, "Serve demo/repo from a local git server, publish the add-labels plugin to a local registry and apply the demo objects.")
	cmd.Flags().StringVar(&dc.DemoRepo, "demo-repo", dc.DemoRepo, "Folder served as the demo git repository.")
	cmd.Flags().StringVar(&dc.DemoPlugin, "demo-plugin", dc.DemoPlugin, "The built add-labels module the demo publishes (make plugins).")
	cmd.Flags().StringVar(&dc.K8sBinDir, "k8s-bin-dir", dc.K8sBinDir, "Directory with kube-apiserver and etcd (default bin/k8s of the source tree).")
	return cmd
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the engine's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(stdout, "engine %s (%s, %s/%s)\n", engine.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
