package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // substring of the error; empty means valid
		// parse is a substring of the flag parsing error; empty: parses
		parse string
	}{
		{name: "defaults", args: nil},
		{name: "sharding selector", args: []string{"--watch-label-selector", "sharding.fluxcd.io/key in (shard1)"}},
		{name: "metrics off", args: []string{"--metrics-addr", "0"}},
		{name: "bad selector", args: []string{"--watch-label-selector", "a in (("}, want: "--watch-label-selector"},
		{name: "zero concurrency", args: []string{"--concurrent", "0"}, want: "--concurrent: must be between 1 and 1000"},
		{name: "zero ssa concurrency", args: []string{"--concurrent-ssa", "0"}, want: "--concurrent-ssa: must be between 1 and 100"},
		{name: "bad address", args: []string{"--storage-addr", "nohostport"}, want: `--storage-addr: "nohostport" is not host:port`},
		{name: "bad port", args: []string{"--receiver-addr", ":http-ish"}, want: "--receiver-addr"},
		{name: "bad namespace", args: []string{"--watch-namespace", "Not_A_Namespace"}, want: "--watch-namespace"},
		{name: "bad log level", args: []string{"--log-level", "verbose"}, want: "--log-level: must be debug, info or error"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, want: "--log-format"},
		{name: "negative shutdown", args: []string{"--graceful-shutdown-timeout", "-1s"}, want: "--graceful-shutdown-timeout: must be positive"},
		{name: "renew longer than lease", args: []string{"--leader-election-renew-deadline", "1m"}, want: "must be shorter than --leader-election-lease-duration"},
		{name: "empty storage path", args: []string{"--storage-path", ""}, want: "--storage-path: must not be empty"},
		{name: "bad service account", args: []string{"--default-service-account", "Bad Name"}, want: "--default-service-account"},
		{name: "feature gates", args: []string{"--feature-gates=StrictPostBuildSubstitutions=true"}},
		{name: "unknown feature gate", args: []string{"--feature-gates=CacheSecretsAndConfigMaps=true"}, parse: `unknown feature gate "CacheSecretsAndConfigMaps", known: ObjectLevelWorkloadIdentity, StrictPostBuildSubstitutions`},
		{name: "bad feature gate value", args: []string{"--feature-gates=StrictPostBuildSubstitutions=yes please"}, parse: "is not true or false"},
		{name: "bad feature gate pair", args: []string{"--feature-gates=StrictPostBuildSubstitutions"}, parse: "is not name=true|false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			cfg.BindFlags(fs)
			if err := fs.Parse(tt.args); tt.parse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parse) {
					t.Fatalf("want a parse error containing %q, got %v", tt.parse, err)
				}
				return
			} else if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("want error containing %q, got none", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestConfigFlagsBindEveryField(t *testing.T) {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	cfg.BindFlags(fs)
	args := []string{
		"--kubeconfig=/k", "--metrics-addr=:1", "--health-addr=:2", "--leader-elect", "--concurrent=3",
		"--watch-namespace=ns", "--watch-label-selector=a=b", "--storage-path=/s", "--storage-addr=:4",
		"--storage-adv-addr=host:5", "--receiver-addr=:6", "--no-cross-namespace-refs", "--no-remote-bases",
		"--default-service-account=sa", "--plugin-cache-dir=/c", "--log-level=debug", "--log-format=console",
		"--graceful-shutdown-timeout=7s", "--insecure-kubeconfig-exec", "--insecure-kubeconfig-tls",
		"--feature-gates=StrictPostBuildSubstitutions=true, ObjectLevelWorkloadIdentity=true", "--concurrent-ssa=8",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Kubeconfig, want.MetricsAddr, want.HealthAddr, want.LeaderElect, want.Concurrent = "/k", ":1", ":2", true, 3
	want.WatchNamespace, want.WatchLabelSelector, want.StoragePath, want.StorageAddr = "ns", "a=b", "/s", ":4"
	want.StorageAdvAddr, want.ReceiverAddr, want.NoCrossNamespaceRefs, want.NoRemoteBases = "host:5", ":6", true, true
	want.DefaultServiceAccount, want.PluginCacheDir, want.LogLevel, want.LogFormat = "sa", "/c", "debug", "console"
	want.GracefulShutdownTimeout = 7 * time.Second
	want.InsecureKubeConfigExec, want.InsecureKubeConfigTLS, want.StrictPostBuildSubstitutions = true, true, true
	want.ObjectLevelWorkloadIdentity, want.ConcurrentSSA = true, 8
	if cfg != want {
		t.Fatalf("flags did not bind:\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.AdvertisedStorageAddr(); got != "host:5" {
		t.Fatalf("advertised storage address: got %q", got)
	}
}

func TestAdvertisedStorageAddrDefault(t *testing.T) {
	for addr, want := range map[string]string{":9090": "localhost:9090", "127.0.0.1:9091": "127.0.0.1:9091", "0.0.0.0:80": "localhost:80"} {
		c := DefaultConfig()
		c.StorageAddr = addr
		if got := c.AdvertisedStorageAddr(); got != want {
			t.Errorf("%s: got %q, want %q", addr, got, want)
		}
	}
}
