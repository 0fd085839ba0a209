package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Config is every setting of the engine, flat, bound from flags once and
// validated once by Validate.
type Config struct {
	Kubeconfig string

	MetricsAddr string
	HealthAddr  string

	LeaderElect                 bool
	LeaderElectionNamespace     string
	LeaderElectionLeaseDuration time.Duration
	LeaderElectionRenewDeadline time.Duration
	LeaderElectionRetryPeriod   time.Duration
	GracefulShutdownTimeout     time.Duration
	Concurrent                  int
	// ConcurrentSSA is how many objects of one Kustomization are read and
	// dry-run at once (Flux's --concurrent-ssa).
	ConcurrentSSA int
	// HistoryRefresh is how often a Kustomization reconcile that changed
	// nothing still rewrites status.history (0: every reconcile, as Flux).
	HistoryRefresh time.Duration
	// ApplyLedger skips applying objects nobody touched since this process
	// applied them (docs/decisions/0007-quiet-reconciles.md).
	ApplyLedger bool
	// MemoryTrimInterval is how often the engine hands back memory it
	// does not use (0: never).
	MemoryTrimInterval     time.Duration
	WatchNamespace         string
	WatchLabelSelector     string
	StoragePath            string
	StorageAddr            string
	StorageAdvAddr         string
	ReceiverAddr           string
	NoCrossNamespaceRefs   bool
	NoRemoteBases          bool
	DefaultServiceAccount  string
	InsecureKubeConfigExec bool
	InsecureKubeConfigTLS  bool
	// StrictPostBuildSubstitutions is Flux's feature gate of that name:
	// a variable without a value and without a default fails the build.
	StrictPostBuildSubstitutions bool
	// ObjectLevelWorkloadIdentity is Flux's feature gate of that name: a
	// spec.kubeConfig.configMapRef may name the service account whose
	// token reaches the remote cluster.
	ObjectLevelWorkloadIdentity bool
	PluginCacheDir              string
	LogLevel                    string
	LogFormat                   string
	ClusterConnectTimeout       time.Duration
	KubeAPIQPS                  float32
	KubeAPIBurst                int
}

// DefaultConfig returns the defaults the flags start from.
func DefaultConfig() Config {
	return Config{
		MetricsAddr:                 ":8080",
		HealthAddr:                  ":9440",
		LeaderElectionLeaseDuration: 35 * time.Second,
		LeaderElectionRenewDeadline: 30 * time.Second,
		LeaderElectionRetryPeriod:   5 * time.Second,
		GracefulShutdownTimeout:     25 * time.Second,
		Concurrent:                  10,
		ConcurrentSSA:               4,
		HistoryRefresh:              time.Hour,
		ApplyLedger:                 true,
		MemoryTrimInterval:          5 * time.Minute,
		WatchLabelSelector:          "",
		StoragePath:                 "/data",
		StorageAddr:                 ":9090",
		ReceiverAddr:                ":9292",
		PluginCacheDir:              "/tmp/weir-plugin-cache",
		LogLevel:                    "info",
		LogFormat:                   "json",
		ClusterConnectTimeout:       10 * time.Second,
		KubeAPIQPS:                  100,
		KubeAPIBurst:                300,
		// A build confined to its artifact: remote bases off unless asked.
		NoRemoteBases: true,
	}
}

// BindFlags binds every field of c to a flag of fs, with c's current values
// as defaults.
func (c *Config) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "Path to a kubeconfig; empty means in-cluster or $KUBECONFIG.")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "Address of the Prometheus /metrics endpoint; 0 disables it.")
	fs.StringVar(&c.HealthAddr, "health-addr", c.HealthAddr, "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect, "Run only while holding the leader Lease, for more than one replica.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace, "Namespace of the leader Lease; empty means the engine's own namespace.")
	fs.DurationVar(&c.LeaderElectionLeaseDuration, "leader-election-lease-duration", c.LeaderElectionLeaseDuration, "How long a standby waits before taking over the Lease.")
	fs.DurationVar(&c.LeaderElectionRenewDeadline, "leader-election-renew-deadline", c.LeaderElectionRenewDeadline, "How long the leader keeps trying to renew before it gives up.")
	fs.DurationVar(&c.LeaderElectionRetryPeriod, "leader-election-retry-period", c.LeaderElectionRetryPeriod, "How often leader election is tried.")
	fs.DurationVar(&c.GracefulShutdownTimeout, "graceful-shutdown-timeout", c.GracefulShutdownTimeout, "How long running reconciles may take to finish on shutdown.")
	fs.DurationVar(&c.HistoryRefresh, "history-refresh-interval", c.HistoryRefresh, "How often a Kustomization reconcile that changed nothing still rewrites status.history; 0 rewrites it at every reconcile, as Flux does.")
	fs.DurationVar(&c.MemoryTrimInterval, "memory-trim-interval", c.MemoryTrimInterval, "How often to hand back to the kernel the heap and binary pages the engine holds but does not use, besides once a burst of work is over; 0 never does.")
	fs.BoolVar(&c.ApplyLedger, "apply-ledger", c.ApplyLedger, "Skip objects nobody changed since this process applied them; false dry-runs every object at every reconcile, as Flux does.")
	fs.IntVar(&c.Concurrent, "concurrent", c.Concurrent, "Reconciles run at once per kind.")
	fs.IntVar(&c.ConcurrentSSA, "concurrent-ssa", c.ConcurrentSSA, "Objects of one Kustomization read and dry-run at once, as Flux's flag of that name.")
	fs.StringVar(&c.WatchNamespace, "watch-namespace", c.WatchNamespace, "Watch only this namespace; empty means all.")
	fs.StringVar(&c.WatchLabelSelector, "watch-label-selector", c.WatchLabelSelector, "Reconcile only objects matching this label selector (sharding), e.g. 'sharding.fluxcd.io/key in (shard1)'.")
	fs.StringVar(&c.StoragePath, "storage-path", c.StoragePath, "Directory where artifacts are stored.")
	fs.StringVar(&c.StorageAddr, "storage-addr", c.StorageAddr, "Address the artifact HTTP server listens on.")
	fs.StringVar(&c.StorageAdvAddr, "storage-adv-addr", c.StorageAdvAddr, "Address advertised in artifact URLs; empty means derived from --storage-addr.")
	fs.StringVar(&c.ReceiverAddr, "receiver-addr", c.ReceiverAddr, "Address the webhook receiver listens on.")
	fs.BoolVar(&c.NoCrossNamespaceRefs, "no-cross-namespace-refs", c.NoCrossNamespaceRefs, "Refuse references to objects in other namespaces.")
	fs.BoolVar(&c.NoRemoteBases, "no-remote-bases", c.NoRemoteBases, "Refuse kustomize references outside the source artifact: HTTP resources and remote git bases (on by default, unlike Flux; --no-remote-bases=false lets kustomize fetch them).")
	fs.StringVar(&c.DefaultServiceAccount, "default-service-account", c.DefaultServiceAccount, "Service account to impersonate when a Kustomization names none.")
	fs.BoolVar(&c.InsecureKubeConfigExec, "insecure-kubeconfig-exec", c.InsecureKubeConfigExec, "Allow exec credential plugins in the kubeconfigs of spec.kubeConfig.")
	fs.BoolVar(&c.InsecureKubeConfigTLS, "insecure-kubeconfig-tls", c.InsecureKubeConfigTLS, "Allow insecure-skip-tls-verify in the kubeconfigs of spec.kubeConfig.")
	fs.Var(featureGates{c}, "feature-gates", "Flux feature gates as name=true|false pairs, comma separated; known: ObjectLevelWorkloadIdentity, StrictPostBuildSubstitutions.")
	fs.StringVar(&c.PluginCacheDir, "plugin-cache-dir", c.PluginCacheDir, "Directory of the compiled Wasm module cache.")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "Log level: debug, info or error.")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "Log format: json or console.")
	fs.DurationVar(&c.ClusterConnectTimeout, "cluster-connect-timeout", c.ClusterConnectTimeout, "How long to wait for the API server at start.")
	fs.Float32Var(&c.KubeAPIQPS, "kube-api-qps", c.KubeAPIQPS, "Requests per second to the API server, client side; used only when the API server has no API Priority and Fairness, as in Flux.")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", c.KubeAPIBurst, "Burst of requests to the API server, client side; used only when the API server has no API Priority and Fairness.")
}

// Validate checks every field and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...)))
	}
	if c.MetricsAddr != "0" {
		if err := checkAddr(c.MetricsAddr); err != nil {
			bad("metrics-addr", "%v", err)
		}
	}
	for flag, addr := range map[string]string{"health-addr": c.HealthAddr, "storage-addr": c.StorageAddr, "receiver-addr": c.ReceiverAddr} {
		if err := checkAddr(addr); err != nil {
			bad(flag, "%v", err)
		}
	}
	if c.StorageAdvAddr != "" {
		if err := checkAddr(c.StorageAdvAddr); err != nil {
			bad("storage-adv-addr", "%v", err)
		}
	}
	if c.KubeAPIQPS <= 0 || c.KubeAPIBurst <= 0 {
		bad("kube-api-qps", "and --kube-api-burst must be positive, got %v and %d", c.KubeAPIQPS, c.KubeAPIBurst)
	}
	if c.MemoryTrimInterval < 0 {
		bad("memory-trim-interval", "must not be negative, got %s", c.MemoryTrimInterval)
	}
	if c.HistoryRefresh < 0 {
		bad("history-refresh-interval", "must not be negative, got %s", c.HistoryRefresh)
	}
	if c.Concurrent < 1 || c.Concurrent > 1000 {
		bad("concurrent", "must be between 1 and 1000, got %d", c.Concurrent)
	}
	if c.ConcurrentSSA < 1 || c.ConcurrentSSA > 100 {
		bad("concurrent-ssa", "must be between 1 and 100, got %d", c.ConcurrentSSA)
	}
	for flag, d := range map[string]time.Duration{
		"leader-election-lease-duration": c.LeaderElectionLeaseDuration,
		"leader-election-renew-deadline": c.LeaderElectionRenewDeadline,
		"leader-election-retry-period":   c.LeaderElectionRetryPeriod,
		"graceful-shutdown-timeout":      c.GracefulShutdownTimeout,
		"cluster-connect-timeout":        c.ClusterConnectTimeout,
	} {
		if d <= 0 {
			bad(flag, "must be positive, got %s", d)
		}
	}
	if c.LeaderElectionRenewDeadline >= c.LeaderElectionLeaseDuration {
		bad("leader-election-renew-deadline", "must be shorter than --leader-election-lease-duration")
	}
	for flag, ns := range map[string]string{"watch-namespace": c.WatchNamespace, "leader-election-namespace": c.LeaderElectionNamespace} {
		if ns != "" {
			if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
				bad(flag, "%q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
			}
		}
	}
	if c.DefaultServiceAccount != "" {
		if msgs := validation.IsDNS1123Subdomain(c.DefaultServiceAccount); len(msgs) > 0 {
			bad("default-service-account", "%q is not a service account name", c.DefaultServiceAccount)
		}
	}
	if _, err := labels.Parse(c.WatchLabelSelector); err != nil {
		bad("watch-label-selector", "%v", err)
	}
	if c.StoragePath == "" {
		bad("storage-path", "must not be empty")
	}
	if c.PluginCacheDir == "" {
		bad("plugin-cache-dir", "must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "error":
	default:
		bad("log-level", "must be debug, info or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		bad("log-format", "must be json or console, got %q", c.LogFormat)
	}
	return errors.Join(errs...)
}

// watchSelector is --watch-label-selector parsed; everything when empty.
func (c *Config) watchSelector() labels.Selector {
	sel, err := labels.Parse(c.WatchLabelSelector)
	if err != nil { // Validate refuses it first
		return labels.Everything()
	}
	return sel
}

// LeaseName is the name of the Lease the replicas compete for: one per
// shard, so that each shard elects its own leader. It is derived from the
// selector in its canonical form, so equivalent spellings share a Lease.
func (c *Config) LeaseName() string {
	sel := c.watchSelector()
	if sel.Empty() {
		return LeaderElectionID
	}
	sum := sha256.Sum256([]byte(sel.String()))
	return strings.Replace(LeaderElectionID, ".", "-"+hex.EncodeToString(sum[:4])+".", 1)
}

// AdvertisedStorageAddr is the host:port put in artifact URLs.
func (c *Config) AdvertisedStorageAddr() string {
	if c.StorageAdvAddr != "" {
		return c.StorageAdvAddr
	}
	host, port, err := net.SplitHostPort(c.StorageAddr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		if err != nil {
			port = "9090"
		}
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if host != "" && net.ParseIP(host) == nil {
		if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
			return fmt.Errorf("%q has an invalid host", addr)
		}
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}
