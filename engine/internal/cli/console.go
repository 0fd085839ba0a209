package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/scheme"
)

// DefaultNamespace is used when neither the flag nor the kubeconfig's
// context names a namespace.
const DefaultNamespace = "default"

// Connection says which cluster and namespace the commands use.
type Connection struct {
	// Kubeconfig is a kubeconfig path; empty means $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster configuration.
	Kubeconfig string
	// Context is a kubeconfig context; empty means the current one.
	Context string
	// Namespace overrides the context's namespace.
	Namespace string
}

func (c Connection) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.Kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.Context})
}

// RESTConfig loads the kubeconfig's configuration for the context.
func (c Connection) RESTConfig() (*rest.Config, error) {
	cfg, err := c.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	return cfg, nil
}

// Open builds a client from the kubeconfig and resolves the namespace: the
// flag, else the context's namespace, else DefaultNamespace.
func (c Connection) Open() (client.Client, string, error) {
	cfg, ns, err := c.Config()
	if err != nil {
		return nil, "", err
	}
	s, err := scheme.New()
	if err != nil {
		return nil, "", err
	}
	kc, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, "", fmt.Errorf("creating the client: %w", err)
	}
	return kc, ns, nil
}

// Config loads the REST configuration the commands use and resolves the
// namespace as Open does.
func (c Connection) Config() (*rest.Config, string, error) {
	cc := c.clientConfig()
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	ns := c.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
		}
		if ns == "" {
			ns = DefaultNamespace
		}
	}
	// kubectl's limits: a wait polls, and get all lists four kinds at once.
	cfg.QPS, cfg.Burst = 50, 300
	return rest.AddUserAgent(cfg, "weir-engine-cli"), ns, nil
}

// Options configure a Console.
type Options struct {
	// Out receives tables and documents; Err receives progress lines.
	Out, Err io.Writer
	// Color paints READY, SUSPENDED and event types with ANSI colours.
	Color bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PollInterval is how often a wait reads the object; 0 means 500ms.
	PollInterval time.Duration
}

// Console runs the daily commands against one cluster and writes their
// output.
type Console struct {
	kube  client.Client
	out   io.Writer
	err   io.Writer
	color bool
	now   func() time.Time
	poll  time.Duration
}

// New returns a Console over kube.
func New(kube client.Client, o Options) (*Console, error) {
	if kube == nil {
		return nil, errors.New("a Kubernetes client is required")
	}
	if o.Out == nil || o.Err == nil {
		return nil, errors.New("both output writers are required")
	}
	if o.PollInterval < 0 {
		return nil, fmt.Errorf("poll interval %s is negative", o.PollInterval)
	}
	c := &Console{kube: kube, out: o.Out, err: o.Err, color: o.Color, now: o.Now, poll: o.PollInterval}
	if c.now == nil {
		c.now = time.Now
	}
	if c.poll == 0 {
		c.poll = 500 * time.Millisecond
	}
	return c, nil
}

// ColorEnabled reports whether output to w should be coloured: only when w
// is a terminal, NO_COLOR is unset or empty and TERM is not "dumb".
func ColorEnabled(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
