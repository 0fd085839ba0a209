package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/weir-gitops/weir/config/crd"
)

// Options configure a control plane.
type Options struct {
	// BinDir holds kube-apiserver and etcd. Empty means: the KUBEBUILDER_ASSETS
	// environment variable, else bin/k8s in the nearest directory above the
	// working directory that has a go.mod.
	BinDir string
	// EtcdDataDir keeps etcd's data across restarts. Empty means a
	// temporary directory removed on Stop.
	EtcdDataDir string
	// ServiceCIDR is the Service IP range; the default /16 leaves room for
	// benchmarks with thousands of Services.
	ServiceCIDR string
	// Output shows the control plane's own logs on stdout and stderr.
	Output bool
}

// ControlPlane is a running kube-apiserver and etcd.
type ControlPlane struct {
	env *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// KubeConfig is Config as a kubeconfig file.
	KubeConfig []byte
}

// ErrBinariesMissing is returned when kube-apiserver or etcd is not built.
var ErrBinariesMissing = errors.New("kube-apiserver and etcd are not built; run 'make tools'")

// Start starts etcd and kube-apiserver and installs the CRDs.
func Start(opts Options) (*ControlPlane, error) {
	dir, err := binDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	crds, err := crd.All()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDInstallOptions:        envtest.CRDInstallOptions{CRDs: crds},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
		AttachControlPlaneOutput: opts.Output,
	}
	cidr := opts.ServiceCIDR
	if cidr == "" {
		cidr = "10.0.0.0/16"
	}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", cidr)
	if opts.EtcdDataDir != "" {
		if err := os.MkdirAll(opts.EtcdDataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating etcd data dir: %w", err)
		}
		env.ControlPlane.Etcd = &envtest.Etcd{DataDir: opts.EtcdDataDir}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	return &ControlPlane{env: env, Config: cfg, KubeConfig: env.KubeConfig}, nil
}

// Stop stops kube-apiserver and etcd.
func (c *ControlPlane) Stop() error {
	if err := c.env.Stop(); err != nil {
		return fmt.Errorf("stopping the control plane: %w", err)
	}
	return nil
}

func binDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "k8s")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("%w (looked in %s)", ErrBinariesMissing, dir)
		}
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "bin", "k8s")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrBinariesMissing
		}
		dir = parent
	}
}
