package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// FluxOptions configure Flux's source-controller, kustomize-controller and
// optionally notification-controller, run as processes from the binaries
// `make flux` builds into bin/flux.
type FluxOptions struct {
	// BinDir holds the controllers and crd/. Empty means bin/flux found
	// above the working directory.
	BinDir string
	// Kubeconfig is the path of the cluster's kubeconfig.
	Kubeconfig string
	// Namespace limits both controllers to one namespace; empty watches
	// all namespaces.
	Namespace string
	// SourceConcurrent and KustomizeConcurrent are each controller's
	// --concurrent; 0 keeps Flux's defaults (2 and 4).
	SourceConcurrent, KustomizeConcurrent int
	// StorageDir is source-controller's artifact storage.
	StorageDir string
	// Notification also starts notification-controller, for Receivers.
	Notification bool
	// LogLevel is both controllers' --log-level; empty means error.
	LogLevel string
	// Logs receives both controllers' logs; nil discards them.
	Logs io.Writer
}

// Flux is a running source-controller and kustomize-controller, and
// notification-controller when FluxOptions.Notification asked for it.
type Flux struct {
	Source, Kustomize, Notification *Process
	// StorageAddr is where source-controller serves artifacts.
	StorageAddr string
	// ReceiverAddr is where notification-controller serves webhooks.
	ReceiverAddr string
}

// FluxBinDir returns bin/flux above the working directory, where
// `make flux` builds the controllers and copies their CRDs.
func FluxBinDir() (string, error) {
	dir, err := FindTool("flux")
	if err != nil {
		return "", fmt.Errorf("%w (Flux's controllers: run `make flux`)", err)
	}
	for _, b := range []string{"source-controller", "kustomize-controller", "notification-controller", "crd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("bin/flux/%s is missing: run `make flux`", b)
		}
	}
	return dir, nil
}

// InstallFluxCRDs installs the CRDs of Flux's controllers (every source
// kind, not only GitRepository: source-controller watches them all) and
// waits until they are served. They replace the engine's copies of the GA
// kinds, which are generated from the same API types.
func InstallFluxCRDs(cfg *rest.Config, binDir string) error {
	_, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths:              []string{filepath.Join(binDir, "crd")},
		ErrorIfPathMissing: true,
	})
	if err != nil {
		return fmt.Errorf("installing Flux's CRDs: %w", err)
	}
	return nil
}

// StartFlux starts the controllers and waits until each reports ready.
func StartFlux(ctx context.Context, opts FluxOptions) (*Flux, error) {
	dir := opts.BinDir
	if dir == "" {
		d, err := FluxBinDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "error"
	}
	// source-controller refuses a storage path that does not exist.
	if err := os.MkdirAll(opts.StorageDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the artifact storage: %w", err)
	}
	storage, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	f := &Flux{StorageAddr: storage}
	f.Source, err = startFluxController(ctx, dir, "source-controller", opts, opts.SourceConcurrent,
		"--storage-path", opts.StorageDir, "--storage-addr", storage, "--storage-adv-addr", storage)
	if err != nil {
		return nil, err
	}
	f.Kustomize, err = startFluxController(ctx, dir, "kustomize-controller", opts, opts.KustomizeConcurrent)
	if err != nil {
		f.Stop()
		return nil, err
	}
	if opts.Notification {
		events, err := FreeAddr()
		if err != nil {
			f.Stop()
			return nil, err
		}
		if f.ReceiverAddr, err = FreeAddr(); err != nil {
			f.Stop()
			return nil, err
		}
		f.Notification, err = startFluxController(ctx, dir, "notification-controller", opts, 0,
			"--events-addr", events, "--receiverAddr", f.ReceiverAddr)
		if err != nil {
			f.Stop()
			return nil, err
		}
	}
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, p := range f.Processes() {
		if err := p.WaitReady(wait); err != nil {
			f.Stop()
			return nil, err
		}
	}
	return f, nil
}

// Stop stops the controllers.
func (f *Flux) Stop() {
	for _, p := range []*Process{f.Source, f.Kustomize, f.Notification} {
		if p != nil {
			p.Stop()
		}
	}
}

// Processes lists the running controllers, source-controller first.
func (f *Flux) Processes() []*Process {
	ps := []*Process{f.Source, f.Kustomize}
	if f.Notification != nil {
		ps = append(ps, f.Notification)
	}
	return ps
}

func startFluxController(ctx context.Context, dir, name string, opts FluxOptions, concurrent int, extra ...string) (*Process, error) {
	health, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	metrics, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"--health-addr", health, "--metrics-addr", metrics, "--log-level", opts.LogLevel,
		"--watch-all-namespaces=" + strconv.FormatBool(opts.Namespace == "")}
	if concurrent > 0 {
		args = append(args, "--concurrent", strconv.Itoa(concurrent))
	}
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), append(args, extra...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+opts.Kubeconfig, "RUNTIME_NAMESPACE="+opts.Namespace)
	cmd.Stdout, cmd.Stderr = opts.Logs, opts.Logs
	p := &Process{Name: name, Cmd: cmd, HealthAddr: health, MetricsAddr: metrics}
	if err := p.Start(); err != nil {
		return nil, err
	}
	return p, nil
}
