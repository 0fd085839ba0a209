package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/weir-gitops/weir/engine/internal/oci"
	"github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// callFlags are the flags `engine plugin run` and `bench` share: which
// module, which extension point, on what, and the Plugin's spec.
type callFlags struct {
	kind     string
	input    string
	config   string
	timeout  time.Duration
	memory   string
	allowed  []string
	keys     []string
	cacheDir string
}

func (f *callFlags) bind(fl *pflag.FlagSet) {
	f.timeout, f.memory = 10*time.Second, "128Mi"
	fl.StringVar(&f.kind, "kind", "", "The extension point to call: transform, health or notify. Default: the module's only capability.")
	fl.StringVarP(&f.input, "input", "i", "", `Objects (transform, health) or a Flux event (notify) as YAML or JSON; "-" reads stdin.`)
	fl.StringVar(&f.config, "config", "", "The Plugin's spec.config: a YAML or JSON file, or inline JSON or YAML.")
	fl.DurationVar(&f.timeout, "timeout", f.timeout, "Per-call timeout, as the Plugin's spec.limits.timeout.")
	fl.StringVar(&f.memory, "memory", f.memory, "Memory per instance, as the Plugin's spec.limits.memory.")
	fl.StringArrayVar(&f.allowed, "allowed-host", nil, "A host (any port) or host:port http_call may reach, as spec.notify.allowedHosts; repeat for several.")
	fl.StringArrayVar(&f.keys, "key", nil, "cosign public key file to verify an OCI artifact with before running it; repeat for several (any one must have signed).")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "wazero compilation cache directory (default: in memory).")
}

// spec checks the flags that need no module and returns the Plugin spec
// they describe, without its module.
func (f *callFlags) spec() (plugin.Spec, error) {
	var s plugin.Spec
	pages, err := memoryPages(f.memory)
	if err != nil {
		return s, err
	}
	if f.config != "" {
		if s.Config, err = parseConfig(f.config); err != nil {
			return s, err
		}
	}
	s.Limits = plugin.Limits{Timeout: f.timeout, MemoryPages: pages, MaxInstances: 1}
	s.AllowedHosts = f.allowed
	return s, nil
}

// memoryPages turns a quantity such as 128Mi into 64 KiB pages.
func memoryPages(q string) (uint32, error) {
	v, err := resource.ParseQuantity(q)
	if err != nil {
		return 0, fmt.Errorf("--memory: %w", err)
	}
	pages := uint32(v.Value() / plugin.PageSize)
	if pages == 0 {
		return 0, errors.New("--memory must be at least 64Ki")
	}
	return pages, nil
}

// parseConfig reads a Plugin's spec.config: @FILE or the path of an
// existing file, else inline JSON or YAML. It must be an object.
func parseConfig(s string) (map[string]any, error) {
	raw := []byte(s)
	path, at := strings.CutPrefix(s, "@")
	if st, err := os.Stat(path); at || err == nil && !st.IsDir() {
		if raw, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil || cfg == nil {
		return nil, fmt.Errorf("--config must be a JSON or YAML object, inline or in a file: %v", err)
	}
	return cfg, nil
}

// pickKind returns the extension point to call: the one asked for, which
// the module must declare, or the module's only one.
func pickKind(meta abi.Metadata, asked string) (abi.Capability, error) {
	have := make([]string, len(meta.Capabilities))
	for i, c := range meta.Capabilities {
		have[i] = string(c)
	}
	switch {
	case asked != "" && !slices.Contains(have, asked):
		return "", fmt.Errorf("--kind %s: module %s declares %s", asked, meta.Name, strings.Join(have, ", "))
	case asked != "":
		return abi.Capability(asked), nil
	case len(have) == 1:
		return meta.Capabilities[0], nil
	}
	return "", fmt.Errorf("module %s declares %s: choose one with --kind", meta.Name, strings.Join(have, ", "))
}

// session is one module loaded into a fresh host, ready for calls of one
// extension point.
type session struct {
	host *plugin.Host
	p    *plugin.Plugin
	meta abi.Metadata
	kind abi.Capability
}

// open loads the module named by arg with the Plugin spec of f. Progress
// and verification notes go to status, guest logs to log. ready, when not
// nil, runs before the (slow) compilation, for the checks that need the
// extension point only.
func (f *callFlags) open(ctx context.Context, status io.Writer, arg string, log logr.Logger,
	opts []oci.Option, ready func(abi.Capability) error) (*session, error) {
	spec, err := f.spec()
	if err != nil {
		return nil, err
	}
	if spec.Wasm, err = loadModule(ctx, status, arg, f.keys, opts); err != nil {
		return nil, err
	}
	meta, err := plugin.ReadMetadata(spec.Wasm)
	if err != nil {
		return nil, fmt.Errorf("%s is not a Weir plugin: %w", arg, err)
	}
	kind, err := pickKind(meta, f.kind)
	if err != nil {
		return nil, err
	}
	if ready != nil {
		if err := ready(kind); err != nil {
			return nil, err
		}
	}
	host, err := plugin.NewHost(plugin.Options{CacheDir: f.cacheDir, Logger: log})
	if err != nil {
		return nil, err
	}
	spec.Key = plugin.Key{Namespace: "default", Name: meta.Name}
	p, err := host.Load(ctx, spec)
	if err != nil {
		_ = host.Close(ctx)
		return nil, err
	}
	return &session{host: host, p: p, meta: meta, kind: kind}, nil
}

func (s *session) close(ctx context.Context) {
	_ = s.p.Close(ctx)
	_ = s.host.Close(ctx)
}

func newRunCmd(stdout, stderr io.Writer, regOpts func() []oci.Option) *cobra.Command {
	var f callFlags
	output := "yaml"
	cmd := &cobra.Command{
		Use:   "run FILE.wasm|REF --input FILE|- [--kind transform|health|notify] [--config FILE|JSON]",
		Short: "Run a plugin's extension point once on local input and print the result",
		Long: `Loads the module (a file, or an OCI artifact pulled by digest and verified first
when --key is given) into the engine's own plugin host and calls one extension
point, as the engine would with a Plugin of that config and those limits:

  transform  the objects of --input (multi-document YAML, a v1 List, or a KRM
             ResourceList, whose functionConfig is kept unless --config is
             given) go in; the output items are printed as YAML documents,
             or the whole ResourceList with -o resourcelist
  health     each object of --input gets a verdict (Current, InProgress or
             Failed with a message), printed with the object it is about
  notify     the Flux event of --input is delivered; http_call reaches only
             the --allowed-host hosts; the delivery report is printed

Results go to stdout; transform findings ([severity] object: message) and
the guest's logs and output go to stderr.

Exit status: 0 when the call returned an answer, including a Failed health
verdict and an undelivered notification; 1 when the transform reported a
result of severity error (then no items are printed, as the engine applies
nothing: -o resourcelist still prints the list with its results), and 1 when
the plugin could not be run (bad input, a refused module, a trap, a timeout).`,
		Example: `  engine plugin run bin/plugins/add-labels.wasm --input app.yaml --config '{"team": "payments"}'
  kustomize build overlays/prod | engine plugin run bin/plugins/deny-latest-tag.wasm -i -
  engine plugin run bin/plugins/phase-health.wasm -i database.yaml
  engine plugin run --key cosign.pub oci://registry.example.com/plugins/webhook-notifier:v0.1.0 \
      -i event.json --config '{"url": "https://hooks.example.com/weir"}' --allowed-host hooks.example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "yaml" && output != "resourcelist" {
				return fmt.Errorf("-o %q: want yaml or resourcelist", output)
			}
			if f.input == "" {
				return errors.New("--input is required: a file, or - for stdin")
			}
			in, err := readPluginInput(f.input, cmd.InOrStdin())
			if err != nil {
				return err
			}
			r := runner{stdout: stdout, stderr: stderr, in: in, output: output, replaceConfig: f.config != ""}
			s, err := f.open(cmd.Context(), stderr, args[0], logr.New(&stderrLog{w: stderr}), regOpts(), r.prepare)
			if err != nil {
				return err
			}
			defer s.close(context.WithoutCancel(cmd.Context()))
			return r.run(cmd.Context(), s)
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", output, "yaml, or resourcelist (transform: the whole output ResourceList, results included).")
	return cmd
}

// runner is one `engine plugin run`: the input decoded for the extension
// point, the call, and its printing.
type runner struct {
	stdout, stderr io.Writer
	in             *pluginInput
	output         string
	replaceConfig  bool

	rl    *abi.ResourceList
	objs  []map[string]any
	event abi.Event
}

// prepare decodes the input for kind, before the module is compiled.
func (r *runner) prepare(kind abi.Capability) error {
	var err error
	if r.output != "yaml" && kind != abi.CapabilityTransform {
		return fmt.Errorf("-o %s is for transforms", r.output)
	}
	switch kind {
	case abi.CapabilityTransform:
		if r.rl, err = r.in.resourceList(); err == nil && r.replaceConfig {
			r.rl.FunctionConfig = nil // the Plugin's config takes its place
		}
	case abi.CapabilityHealth:
		if r.objs, err = r.in.objects(); err == nil && len(r.objs) == 0 {
			err = fmt.Errorf("input %s: no object to judge", r.in.name)
		}
	case abi.CapabilityNotify:
		r.event, err = r.in.event()
	}
	return err
}

// verdict is what health prints for each object.
type verdict struct {
	Object abi.ResourceRef  `json:"object"`
	Status abi.HealthStatus `json:"status"`
	// Message is always printed: an empty one is a finding too.
	Message string `json:"message"`
}

func (r *runner) run(ctx context.Context, s *session) error {
	switch s.kind {
	case abi.CapabilityTransform:
		out, err := s.p.Transform(ctx, r.rl)
		if err != nil {
			return err
		}
		writeResults(r.stderr, out.Results)
		errs := plugin.ErrorResults(out.Results)
		switch {
		case r.output == "resourcelist":
			if err := writeDocs(r.stdout, []*abi.ResourceList{out}); err != nil {
				return err
			}
		case len(errs) == 0:
			if err := writeDocs(r.stdout, out.Items); err != nil {
				return err
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("transform %s reported %d error result(s)", s.meta.Name, len(errs))
		}
		return nil
	case abi.CapabilityHealth:
		vs := make([]verdict, len(r.objs))
		for i, obj := range r.objs {
			res, err := s.p.Health(ctx, obj)
			if err != nil {
				return err
			}
			vs[i] = verdict{Object: refOf(obj), Status: res.Status, Message: res.Message}
		}
		return writeDocs(r.stdout, vs)
	default:
		res, err := s.p.Notify(ctx, r.event)
		if err != nil {
			return err
		}
		return writeDocs(r.stdout, []abi.NotifyResult{res})
	}
}

func refOf(obj map[string]any) abi.ResourceRef {
	meta, _ := obj["metadata"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	return abi.ResourceRef{APIVersion: str(obj, "apiVersion"), Kind: str(obj, "kind"),
		Namespace: str(meta, "namespace"), Name: str(meta, "name")}
}
