package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/flowcontrol"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/scheme"
)

// Version is the engine's version, set at build time.
var Version = "dev"

// LeaderElectionID names the Lease replicas compete for when they watch
// every object. Replicas of a shard compete for a Lease of their own, named
// by LeaseName.
const LeaderElectionID = "weir-engine-leader.weir.dev"

// ErrLeaderElectionLost is returned by Start when the engine stopped because
// another replica holds the Lease now. Reconciles that were running are not
// waited for, so the process must exit at once: the new leader may already
// be applying.
var ErrLeaderElectionLost = errors.New("leader election lost")

// Engine is a configured, not yet started, engine.
type Engine struct {
	cfg     Config
	restCfg *rest.Config
	log     logr.Logger
}

// ErrClusterUnreachable is returned by New when the API server does not answer.
var ErrClusterUnreachable = errors.New("cannot reach the Kubernetes API server")

// New validates cfg, loads the cluster configuration and checks that the API
// server answers, so that a wrong kubeconfig fails at once with one line.
func New(cfg Config, log logr.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	restCfg, err := loadRESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return newWithREST(cfg, restCfg, log)
}

func newWithREST(cfg Config, restCfg *rest.Config, log logr.Logger) (*Engine, error) {
	probe := rest.CopyConfig(restCfg)
	probe.Timeout = cfg.ClusterConnectTimeout
	dc, err := discovery.NewDiscoveryClientForConfig(probe)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrClusterUnreachable, restCfg.Host, err)
	}
	if _, err := dc.ServerVersion(); err != nil {
		return nil, fmt.Errorf("%w at %s: %s", ErrClusterUnreachable, restCfg.Host, oneLine(err))
	}
	restCfg = rest.CopyConfig(restCfg)
	restCfg.QPS, restCfg.Burst = clientLimits(probe, cfg)
	log.Info("client-side rate limit", "qps", restCfg.QPS, "burst", restCfg.Burst)
	// The API server warns about Flux's finalizer name on every object;
	// the name is part of the contract, so the warning is noise.
	restCfg.WarningHandler = rest.NoWarnings{}
	countRequests(restCfg)
	return &Engine{cfg: cfg, restCfg: restCfg, log: log}, nil
}

// Start runs the engine until ctx is done, then shuts down within the
// graceful shutdown timeout.
func (e *Engine) Start(ctx context.Context) error {
	sch, err := NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(e.restCfg, e.managerOptions(sch))
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	if err := e.setupStages(ctx, mgr); err != nil {
		return err
	}
	go trimMemory(ctx, e.cfg.MemoryTrimInterval, apiActivity.Load, e.log.WithName("trim"))
	e.log.Info("starting engine", "version", Version, "leaderElect", e.cfg.LeaderElect, "lease", e.cfg.LeaseName(),
		"watchNamespace", e.cfg.WatchNamespace, "watchLabelSelector", e.cfg.WatchLabelSelector)
	if err := mgr.Start(ctx); err != nil {
		// controller-runtime reports a lost Lease with an unexported error
		// of this text, and skips the graceful shutdown.
		if ctx.Err() == nil && e.cfg.LeaderElect && strings.Contains(err.Error(), "leader election lost") {
			return fmt.Errorf("%w: lease %s/%s", ErrLeaderElectionLost, e.cfg.LeaderElectionNamespace, e.cfg.LeaseName())
		}
		return fmt.Errorf("running the manager: %w", err)
	}
	e.log.Info("engine stopped")
	return nil
}

func (e *Engine) managerOptions(scheme *runtime.Scheme) ctrl.Options {
	cfg := e.cfg
	lease, renew, retry := cfg.LeaderElectionLeaseDuration, cfg.LeaderElectionRenewDeadline, cfg.LeaderElectionRetryPeriod
	shutdown := cfg.GracefulShutdownTimeout
	opts := ctrl.Options{
		Scheme:                        scheme,
		Logger:                        e.log,
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr, ExtraHandlers: pprofHandlers()},
		HealthProbeBindAddress:        cfg.HealthAddr,
		LeaderElection:                cfg.LeaderElect,
		LeaderElectionID:              cfg.LeaseName(),
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &lease,
		RenewDeadline:                 &renew,
		RetryPeriod:                   &retry,
		GracefulShutdownTimeout:       &shutdown,
		Client:                        client.Options{Cache: &client.CacheOptions{Unstructured: false}},
	}
	// A shard caches only its own Kustomizations, Receivers and Plugins,
	// but every GitRepository: its Kustomizations may consume a source
	// another shard owns, and must see that source's artifact change. The
	// GitRepository controller skips the sources of other shards itself
	// (see docs/decisions/0006-shards-cache-every-source.md).
	byObject := map[client.Object]cache.ByObject{}
	if sel := cfg.watchSelector(); !sel.Empty() {
		for _, obj := range []client.Object{&kustomizev1.Kustomization{}, &notificationv1.Receiver{}, &weirv1alpha1.Plugin{}} {
			byObject[obj] = cache.ByObject{Label: sel}
		}
	}
	// Nothing reads managedFields from the cache (applies read live
	// objects), and they are often the larger part of an object.
	opts.Cache = cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
	if cfg.WatchNamespace != "" {
		opts.Cache.DefaultNamespaces = map[string]cache.Config{cfg.WatchNamespace: {}}
	}
	return opts
}

// NewScheme returns a scheme with the built-in kinds, Flux's three GA kinds
// and the engine's own kinds.
func NewScheme() (*runtime.Scheme, error) { return scheme.New() }

func loadRESTConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %s", kubeconfig, oneLine(err))
		}
		return cfg, nil
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the cluster configuration: %s", oneLine(err))
	}
	return cfg, nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// pprofHandlers serve Go's profiles under /debug/pprof/ on the metrics
// address, where Flux's controllers serve them too.
func pprofHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}

// clientLimits is the client-side rate limit, as Flux chooses it: none
// when the API server has API Priority and Fairness (which queues and
// sheds load itself, fairly across clients), else --kube-api-qps and
// --kube-api-burst. The limit client-go applies is per resource kind, so a
// fixed one mostly slows large Kustomizations down.
func clientLimits(probe *rest.Config, cfg Config) (float32, int) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ClusterConnectTimeout)
	defer cancel()
	if on, err := flowcontrol.IsEnabled(ctx, probe); err == nil && on {
		return -1, -1
	}
	return cfg.KubeAPIQPS, cfg.KubeAPIBurst
}
