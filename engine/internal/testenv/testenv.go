package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/controlplane"
	"github.com/weir-gitops/weir/engine/internal/scheme"
)

// Env is a running control plane with a client for tests.
type Env struct {
	cp *controlplane.ControlPlane
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is an uncached client with the engine's scheme.
	Client client.Client
	// Scheme is the engine's scheme.
	Scheme *runtime.Scheme
	// KubeConfig is Config as a kubeconfig file.
	KubeConfig []byte
}

// Start starts a control plane. Call it from TestMain and Stop the Env when
// the tests are done; one control plane serves a whole package.
func Start() (*Env, error) {
	cp, err := controlplane.Start(controlplane.Options{})
	if err != nil {
		return nil, err
	}
	s, err := scheme.New()
	if err != nil {
		_ = cp.Stop()
		return nil, err
	}
	c, err := client.New(cp.Config, client.Options{Scheme: s})
	if err != nil {
		_ = cp.Stop()
		return nil, fmt.Errorf("creating the test client: %w", err)
	}
	return &Env{cp: cp, Config: cp.Config, Client: c, Scheme: s, KubeConfig: cp.KubeConfig}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.cp.Stop() }

// Main is a TestMain body: it starts an Env, stores it in *env, runs the
// tests (m is a *testing.M, or a wrapper of one) and stops the Env.
func Main(m interface{ Run() int }, env **Env) {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	os.Exit(code)
}

// Namespace creates a namespace with a random suffix for one test and
// deletes it when the test ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, strings.ToLower(t.Name()))
	if len(base) > 40 {
		base = base[:40]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: strings.Trim(base, "-") + "-" + rand.String(5)}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// KubeconfigFile writes the kubeconfig into the test's temporary directory
// and returns its path.
func (e *Env) KubeconfigFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, e.KubeConfig, 0o600); err != nil {
		t.Fatalf("writing kubeconfig: %v", err)
	}
	return p
}
