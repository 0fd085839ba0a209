package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/weir-gitops/weir/conformance/pluginabi"
	"github.com/weir-gitops/weir/engine/internal/oci"
	"github.com/weir-gitops/weir/engine/internal/plugin"
)

// testFlags are the flags of `engine plugin test`.
type testFlags struct {
	keys     []string
	timeout  time.Duration
	memory   string
	config   string
	kinds    []string
	large    int
	junit    string
	output   string
	cacheDir string
}

func newTestCmd(stdout io.Writer, regOpts func() []oci.Option) *cobra.Command {
	f := testFlags{timeout: 10 * time.Second, memory: "128Mi", large: 5000, output: "text"}
	cmd := &cobra.Command{
		Use:   "test FILE.wasm|REF",
		Short: "Run the plugin ABI conformance kit on a module file or an OCI artifact",
		Long: `Loads the module into the engine's own plugin host and checks it against the
plugin ABI (docs/plugin-abi.md): metadata, exports and imports, the contract of
each declared capability, determinism, empty and large inputs, the identity
rules of transforms and behaviour under the limits. Every check prints pass,
fail or skip; the exit status is 1 when any check fails.

Notify plugins deliver to a local HTTP sink: "` + pluginabi.SinkPlaceholder + `" in --config stands for its
URL, and a notify plugin without --config gets {"url": "` + pluginabi.SinkPlaceholder + `"}.`,
		Example: `  engine plugin test bin/plugins/add-labels.wasm
  engine plugin test --kind example.com/v1/Database bin/plugins/phase-health.wasm
  engine plugin test --key cosign.pub --junit report.xml oci://registry.example.com/plugins/webhook-notifier:v0.1.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTest(cmd, stdout, args[0], f, regOpts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.keys, "key", nil, "cosign public key file to verify an OCI artifact with; repeat for several (any one must have signed).")
	fl.DurationVar(&f.timeout, "timeout", f.timeout, "Per-call timeout, as the Plugin's spec.limits.timeout.")
	fl.StringVar(&f.memory, "memory", f.memory, "Memory per instance, as the Plugin's spec.limits.memory.")
	fl.StringVar(&f.config, "config", "", "The Plugin's spec.config: a YAML or JSON file (or @FILE), or inline JSON or YAML.")
	fl.StringArrayVar(&f.kinds, "kind", nil, "A kind the health checks use, as APIVERSION/KIND (e.g. example.com/v1/Database); repeat for several. Default example.com/v1/Widget.")
	fl.IntVar(&f.large, "large", f.large, "Size of the large inputs (transform items, health conditions, event metadata entries).")
	fl.StringVar(&f.junit, "junit", "", "Also write the results as JUnit XML to this file.")
	fl.StringVarP(&f.output, "output", "o", f.output, "text, or junit=FILE (the same as --junit FILE).")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "wazero compilation cache directory (default: in memory).")
	return cmd
}

func (f *testFlags) options() (pluginabi.Options, error) {
	opts := pluginabi.Options{Timeout: f.timeout, LargeItems: f.large}
	var err error
	if opts.MemoryPages, err = memoryPages(f.memory); err != nil {
		return opts, err
	}
	if f.config != "" {
		if opts.Config, err = parseConfig(f.config); err != nil {
			return opts, err
		}
	}
	for _, k := range f.kinds {
		i := strings.LastIndex(k, "/")
		if i <= 0 || i == len(k)-1 {
			return opts, fmt.Errorf("--kind %q: want APIVERSION/KIND, e.g. example.com/v1/Database or v1/Pod", k)
		}
		opts.HealthKinds = append(opts.HealthKinds, pluginabi.Kind{APIVersion: k[:i], Kind: k[i+1:]})
	}
	switch {
	case f.output == "text":
	case strings.HasPrefix(f.output, "junit="):
		f.junit = strings.TrimPrefix(f.output, "junit=")
	default:
		return opts, fmt.Errorf("-o %q: want text or junit=FILE", f.output)
	}
	return opts, nil
}

func runTest(cmd *cobra.Command, stdout io.Writer, arg string, f testFlags, regOpts func() []oci.Option) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	wasm, err := loadModule(cmd.Context(), stdout, arg, f.keys, regOpts())
	if err != nil {
		return err
	}
	host, err := plugin.NewHost(plugin.Options{CacheDir: f.cacheDir})
	if err != nil {
		return err
	}
	defer func() { _ = host.Close(cmd.Context()) }()
	name := "module"
	if meta, err := plugin.ReadMetadata(wasm); err == nil {
		name = meta.Name
	}
	opts.Progress = func(r pluginabi.Result) { fmt.Fprintln(stdout, pluginabi.FormatResult(r)) }
	rep := pluginabi.Run(cmd.Context(), &abiModule{host: host, wasm: wasm, name: name}, opts)
	if err := rep.WriteSummary(stdout); err != nil {
		return err
	}
	if f.junit != "" {
		if err := writeJUnit(f.junit, func(w io.Writer) error { return rep.WriteJUnit(w, arg) }); err != nil {
			return err
		}
	}
	if rep.Failed() {
		return fmt.Errorf("%d of %d plugin ABI checks failed", rep.Count(pluginabi.Fail), len(rep.Results))
	}
	return nil
}
