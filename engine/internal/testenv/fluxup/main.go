// Command fluxup runs Flux's source-controller, kustomize-controller and
// notification-controller (built by `make flux`) against a local control
// plane, with Flux's CRDs and a stand-in Deployment controller that marks
// Deployments available after a delay, until it is interrupted. It writes
// the Receiver endpoint's URL to receiver-url and then the kubeconfig in
// --data-dir, so a script that waits for the kubeconfig finds everything
// running. `make flux-up` and `make conformance-flux` use it to run the GA
// conformance suite against stock Flux.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func main() {
	dataDir := flag.String("data-dir", ".data/flux", "Directory for the kubeconfig, the artifacts and the controllers' logs.")
	source := flag.Int("source-concurrent", 0, "source-controller's --concurrent (0: Flux's default, 2).")
	kustomize := flag.Int("kustomize-concurrent", 0, "kustomize-controller's --concurrent (0: Flux's default, 4).")
	delay := flag.Duration("deployment-delay", 500*time.Millisecond, "How long after each change a Deployment becomes available; 0 runs no stand-in, so Deployments never become available.")
	logLevel := flag.String("log-level", "info", "The controllers' --log-level.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *dataDir, *source, *kustomize, *delay, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "fluxup: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir string, source, kustomize int, delay time.Duration, logLevel string) error {
	ctrl.SetLogger(logr.Discard())
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("resolving --data-dir: %w", err)
	}
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	_ = os.Remove(kubeconfig)
	dir, err := testenv.FluxBinDir()
	if err != nil {
		return err
	}
	fmt.Println("► starting kube-apiserver and etcd")
	env, err := testenv.Start()
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	if err := testenv.InstallFluxCRDs(env.Config, dir); err != nil {
		return err
	}
	mgrCtx, cancelMgr := context.WithCancel(ctx)
	defer cancelMgr()
	mgrDone := make(chan error, 1)
	if delay > 0 {
		mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme,
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
		if err != nil {
			return fmt.Errorf("creating the stand-in manager: %w", err)
		}
		if err := testenv.ReadyDeployments(mgr, delay); err != nil {
			return fmt.Errorf("setting up the Deployment stand-in: %w", err)
		}
		go func() { mgrDone <- mgr.Start(mgrCtx) }()
	}

	// The controllers read their kubeconfig again later (impersonation
	// builds clients from it), so theirs stays in place; the public one is
	// written last.
	own := filepath.Join(dataDir, "controllers.kubeconfig")
	if err := os.WriteFile(own, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	logPath := filepath.Join(dataDir, "flux.log")
	logs, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating the log file: %w", err)
	}
	defer logs.Close()
	fmt.Println("► starting Flux's source-controller, kustomize-controller and notification-controller")
	flux, err := testenv.StartFlux(ctx, testenv.FluxOptions{BinDir: dir, Kubeconfig: own,
		SourceConcurrent: source, KustomizeConcurrent: kustomize, Notification: true,
		StorageDir: filepath.Join(dataDir, "artifacts"), LogLevel: logLevel, Logs: logs})
	if err != nil {
		return err
	}
	defer flux.Stop()
	receiverURL := "http://" + flux.ReceiverAddr
	if err := os.WriteFile(filepath.Join(dataDir, "receiver-url"), []byte(receiverURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the receiver URL: %w", err)
	}
	tmp := kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, env.KubeConfig, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := os.Rename(tmp, kubeconfig); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	fmt.Printf("\nFlux is running on a local control plane.\n  kubeconfig: %s\n  receivers:  %s\n  logs:       %s\n  stop:       Ctrl-C\n\n",
		kubeconfig, receiverURL, logPath)

	select {
	case <-ctx.Done():
	case err := <-mgrDone:
		return fmt.Errorf("the Deployment stand-in stopped: %w", err)
	case <-flux.Source.Exited():
		return fmt.Errorf("source-controller exited: %w", flux.Source.Err())
	case <-flux.Kustomize.Exited():
		return fmt.Errorf("kustomize-controller exited: %w", flux.Kustomize.Err())
	case <-flux.Notification.Exited():
		return fmt.Errorf("notification-controller exited: %w", flux.Notification.Err())
	}
	_ = os.Remove(kubeconfig)
	cancelMgr()
	if delay > 0 {
		if err := <-mgrDone; err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("the Deployment stand-in: %w", err)
		}
	}
	return nil
}
