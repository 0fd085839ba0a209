package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/controlplane"
	"github.com/weir-gitops/weir/engine/internal/demo"
)

// DevConfig configures dev mode: a local control plane and the engine in one
// process.
type DevConfig struct {
	Config
	// KubeconfigOut is written once the API server is ready.
	KubeconfigOut string
	// DataDir keeps etcd's data and the artifacts; reused on the next start.
	DataDir string
	// Demo serves DemoRepo from a local git server, publishes the
	// add-labels plugin to a local registry and applies the demo objects.
	Demo bool
	// DemoRepo is the folder served as the demo's git repository.
	DemoRepo string
	// DemoPlugin is the built add-labels module (make plugins).
	DemoPlugin string
	// RegistryBin is the OCI registry binary the demo starts.
	RegistryBin string
	// Out receives the demo's narration.
	Out io.Writer
	// K8sBinDir holds kube-apiserver and etcd; empty means bin/k8s of the
	// source tree.
	K8sBinDir string
	// Ready, when set, is called once the control plane is up and the
	// kubeconfig written.
	Ready func(kubeconfigPath string)
}

// DefaultDevConfig returns dev mode's defaults: every server on 127.0.0.1.
func DefaultDevConfig() DevConfig {
	c := DefaultConfig()
	c.MetricsAddr = "127.0.0.1:8080"
	c.HealthAddr = "127.0.0.1:9440"
	c.StorageAddr = "127.0.0.1:9090"
	c.ReceiverAddr = "127.0.0.1:9292"
	c.LogFormat = "console"
	c.StoragePath = ""
	c.PluginCacheDir = ""
	return DevConfig{Config: c, DataDir: ".data", Demo: true, DemoRepo: "demo/repo",
		DemoPlugin: "bin/plugins/add-labels.wasm", RegistryBin: "/usr/bin/docker-registry", Out: os.Stdout}
}

// Dev starts kube-apiserver and etcd, installs the CRDs, writes the
// kubeconfig and runs the engine against them until ctx is done.
func Dev(ctx context.Context, dc DevConfig, log logr.Logger) error {
	if dc.DataDir == "" {
		return errors.New("invalid configuration: --data-dir must not be empty")
	}
	dataDir, err := filepath.Abs(dc.DataDir)
	if err != nil {
		return fmt.Errorf("resolving --data-dir: %w", err)
	}
	if dc.StoragePath == "" {
		dc.StoragePath = filepath.Join(dataDir, "artifacts")
	}
	if dc.PluginCacheDir == "" {
		dc.PluginCacheDir = filepath.Join(dataDir, "plugin-cache")
	}
	if dc.KubeconfigOut == "" {
		dc.KubeconfigOut = filepath.Join(dataDir, "kubeconfig")
	}
	if err := dc.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	log.Info("starting the local control plane", "dataDir", dataDir)
	cp, err := controlplane.Start(controlplane.Options{BinDir: dc.K8sBinDir, EtcdDataDir: filepath.Join(dataDir, "etcd")})
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			log.Error(err, "stopping the local control plane")
		}
	}()
	if err := writeFileAtomic(dc.KubeconfigOut, cp.KubeConfig); err != nil {
		return err
	}
	log.Info("control plane ready", "kubeconfig", dc.KubeconfigOut)
	if dc.Ready != nil {
		dc.Ready(dc.KubeconfigOut)
	}
	if _, err := clientcmd.Load(cp.KubeConfig); err != nil {
		return fmt.Errorf("checking the written kubeconfig: %w", err)
	}
	e, err := newWithREST(dc.Config, cp.Config, log)
	if err != nil {
		return err
	}
	if dc.Demo {
		sch, err := NewScheme()
		if err != nil {
			return err
		}
		c, err := client.New(cp.Config, client.Options{Scheme: sch})
		if err != nil {
			return err
		}
		go func() {
			err := demo.Run(ctx, c, demo.Options{RepoDir: dc.DemoRepo, WorkDir: filepath.Join(dataDir, "demo"),
				PluginWasm: dc.DemoPlugin, RegistryBin: dc.RegistryBin, ReceiverAddr: dc.ReceiverAddr, Out: dc.Out, Log: log.WithName("demo")})
			if err != nil {
				log.Error(err, "the demo stopped")
			}
		}()
	}
	return e.Start(ctx)
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
