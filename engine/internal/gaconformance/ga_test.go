package gaconformance

import (
	"context"
	"flag"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weir-gitops/weir/conformance/ga"
	"github.com/weir-gitops/weir/engine"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var gaProgress = flag.Bool("ga.progress", false, "print each GA conformance case's result as it finishes")

// TestGAConformance runs the GA conformance suite (package conformance/ga)
// against the engine on the test control plane, Weir-only cases included.
// GA_RUN narrows it to the cases whose names match a regular expression.
func TestGAConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the GA conformance suite takes a minute or two")
	}
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := engine.DefaultConfig()
	cfg.MetricsAddr, cfg.HealthAddr, cfg.StorageAddr, cfg.ReceiverAddr = "0", testenv.LoopbackAddr(t), testenv.LoopbackAddr(t), testenv.LoopbackAddr(t)
	cfg.StoragePath, cfg.PluginCacheDir = t.TempDir(), t.TempDir()
	cfg.Kubeconfig = env.KubeconfigFile(t)
	e, err := engine.New(cfg, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The webhook server listens once the manager runs.
	if err := waitListening(ctx, cfg.ReceiverAddr); err != nil {
		t.Fatal(err)
	}
	opts := ga.Options{ReceiverURL: "http://" + cfg.ReceiverAddr, IncludeWeirOnly: true}
	if r := os.Getenv("GA_RUN"); r != "" {
		opts.Run = regexp.MustCompile(r)
	}
	if testing.Verbose() || *gaProgress {
		opts.Progress = os.Stderr
	}
	report, err := ga.Run(ctx, env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range report.Results {
		t.Run(r.Name, func(t *testing.T) {
			switch r.Status {
			case ga.Failed:
				t.Error(r.Message)
			case ga.Skipped:
				t.Skip(r.Message)
			}
		})
	}
	if *gaProgress {
		_ = report.WriteSummary(os.Stderr)
	}
	t.Logf("%d cases: %d passed, %d failed, %d skipped in %s", len(report.Results),
		report.Count(ga.Passed), report.Count(ga.Failed), report.Count(ga.Skipped), report.Duration)
}

func waitListening(ctx context.Context, addr string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		return true, c.Close()
	})
}
