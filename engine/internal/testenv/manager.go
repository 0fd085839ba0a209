package testenv

import (
	"context"
	"k8s.io/client-go/rest"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Manager starts a controller manager on the test control plane with the
// controllers setup registers, and stops it when the test ends. Each test
// may run its own manager.
func (e *Env) Manager(t testing.TB, setup func(ctx context.Context, mgr ctrl.Manager) error) ctrl.Manager {
	t.Helper()
	return e.ManagerWithConfig(t, e.Config, setup)
}

// ManagerWithConfig is Manager with the manager's clients built from cfg
// (to set the engine's client rate limits, say).
func (e *Env) ManagerWithConfig(t testing.TB, cfg *rest.Config, setup func(ctx context.Context, mgr ctrl.Manager) error) ctrl.Manager {
	t.Helper()
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := setup(ctx, mgr); err != nil {
		cancel()
		t.Fatalf("setting up controllers: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return mgr
}
