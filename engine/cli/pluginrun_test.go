package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", p, err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// runPlugin runs `engine plugin ARGS` with stdin and returns stdout and
// stderr apart.
func runPlugin(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewPluginCmd(&out, &errOut)
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// files writes name -> content into a new directory and returns its path.
func files(t *testing.T, fs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// examplePath writes the example plugin name into dir and returns its path.
func examplePath(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(p, testenv.ExamplePlugin(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	objectsYAML = `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: apps}
data: {LOG_LEVEL: info}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  template:
    spec:
      containers: [{name: web, image: "nginx:latest"}]
`
	objectsList = `{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "apps"}, "data": {"LOG_LEVEL": "info"}},
  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
   "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:latest"}]}}}}]}
`
	objectsResourceList = `apiVersion: config.kubernetes.io/v1
kind: ResourceList
functionConfig:
  apiVersion: weir.dev/v1alpha1
  kind: PluginConfig
  metadata: {name: add-labels}
  data: {team: platform}
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: web-config, namespace: apps}
  data: {LOG_LEVEL: info}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: apps}
  spec:
    template:
      spec:
        containers: [{name: web, image: "nginx:latest"}]
`
	databasesYAML = `apiVersion: example.com/v1
kind: Database
metadata: {name: orders, namespace: apps, generation: 2}
status: {observedGeneration: 2, phase: Failed, message: disk full}
---
apiVersion: example.com/v1
kind: Database
metadata: {name: users, namespace: apps, generation: 2}
status: {observedGeneration: 1, phase: Ready}
`
	eventJSON = `{"involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "apps", "name": "web"},
 "severity": "info", "timestamp": "2026-01-01T00:00:00Z", "message": "Applied revision main@sha1:4f2c1e0a",
 "reason": "ReconciliationSucceeded", "reportingController": "kustomize-controller"}
`
)

// TestPluginRun runs transform and health example plugins on each input
// form and compares stdout with golden files.
func TestPluginRun(t *testing.T) {
	in := files(t, map[string]string{"objects.yaml": objectsYAML, "list.json": objectsList,
		"rl.yaml": objectsResourceList, "databases.yaml": databasesYAML, "config.yaml": "team: payments\n"})
	at := func(name string) string { return filepath.Join(in, name) }
	cache := cacheDir(t)
	addLabels := examplePath(t, in, "add-labels")
	deny := examplePath(t, in, "deny-latest-tag")
	health := examplePath(t, in, "phase-health")
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		golden string // stdout
		stderr []string
		err    string // empty: exit status 0
	}{
		{name: "multi-document YAML", args: []string{addLabels, "-i", at("objects.yaml"), "--config", `{"team": "payments"}`},
			golden: "add-labels.yaml", stderr: []string{"module " + addLabels + " (sha256:", "log info: labelled 2 objects with 1 labels"}},
		{name: "v1 List in JSON, config in a YAML file", args: []string{addLabels, "-i", at("list.json"), "--config", at("config.yaml")},
			golden: "add-labels.yaml"},
		{name: "stdin, inline YAML config", stdin: objectsYAML, args: []string{addLabels, "--input", "-", "--config", "team: payments"},
			golden: "add-labels.yaml"},
		{name: "ResourceList keeps its functionConfig", args: []string{addLabels, "-i", at("rl.yaml")},
			golden: "add-labels-platform.yaml"},
		{name: "--config replaces a ResourceList's functionConfig", args: []string{addLabels, "-i", at("rl.yaml"), "--config", `{"team": "payments"}`},
			golden: "add-labels.yaml"},
		{name: "error result: nothing on stdout, exit 1", args: []string{deny, "-i", at("objects.yaml")},
			stderr: []string{`[error] apps/v1/Deployment apps/web: container "web" uses image "nginx:latest": pin a tag other than latest, or a digest (field spec.template.spec.containers.web.image)`},
			err:    "transform deny-latest-tag reported 1 error result(s)"},
		{name: "error result with -o resourcelist", args: []string{deny, "-i", at("objects.yaml"), "-o", "resourcelist"},
			golden: "deny-latest-tag-resourcelist.yaml", err: "transform deny-latest-tag reported 1 error result(s)"},
		{name: "health: a Failed verdict is an answer", args: []string{health, "-i", at("databases.yaml")},
			golden: "phase-health.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			stdout, stderr, err := runPlugin(t, tc.stdin, append([]string{"run", "--cache-dir", cache}, tc.args...)...)
			if tc.err == "" {
				g.Expect(err).NotTo(HaveOccurred(), stderr)
			} else {
				g.Expect(err).To(MatchError(tc.err), stderr)
			}
			for _, s := range tc.stderr {
				g.Expect(stderr).To(ContainSubstring(s))
			}
			if tc.golden == "" {
				g.Expect(stdout).To(BeEmpty())
				return
			}
			golden(t, filepath.Join("pluginrun", tc.golden), stdout)
		})
	}
}

// TestPluginRunNotify delivers an event to a local server, which the host
// reaches only when --allowed-host names it.
func TestPluginRunNotify(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	in := files(t, map[string]string{"event.json": eventJSON})
	wasm := examplePath(t, in, "webhook-notifier")
	args := []string{"run", wasm, "-i", filepath.Join(in, "event.json"), "--config", `{"url": "` + srv.URL + `/hook"}`, "--cache-dir", cacheDir(t)}
	g := NewWithT(t)

	stdout, stderr, err := runPlugin(t, "", args...)
	g.Expect(err).NotTo(HaveOccurred(), "an undelivered event is an answer, not a failure")
	g.Expect(stdout).To(Equal("delivered: false\nmessage: 'host: denied'\n"))
	g.Expect(stderr).To(ContainSubstring("log info: refused http_call to a host not in allowedHosts host=" + host))
	g.Expect(received()).To(BeEmpty())

	stdout, stderr, err = runPlugin(t, "", append(args, "--allowed-host", host)...)
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stdout).To(HavePrefix("delivered: true\n"))
	g.Expect(received()).To(ConsistOf(ContainSubstring("Applied revision main@sha1:4f2c1e0a")))
}

// TestPluginRunErrors: what cannot be run says why, before compiling the
// module when it can.
func TestPluginRunErrors(t *testing.T) {
	in := files(t, map[string]string{
		"bad.yaml":     objectsYAML + "---\nkind: [unclosed\n",
		"nokind.yaml":  "apiVersion: v1\nmetadata: {name: x}\n",
		"mixed.yaml":   objectsResourceList + "---\n" + objectsYAML,
		"event.json":   eventJSON,
		"objects.yaml": objectsYAML,
	})
	at := func(name string) string { return filepath.Join(in, name) }
	cache := cacheDir(t)
	addLabels := examplePath(t, in, "add-labels")
	notifier := examplePath(t, in, "webhook-notifier")
	write := func(name string, wasm []byte) string {
		p := filepath.Join(in, name+".wasm")
		if err := os.WriteFile(p, wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badHealth := write("bad-health", fixture(t, "bad-health", metadata("bad-health", "health")))
	loop := write("loop", fixture(t, "loop", metadata("loop", "transform")))
	for _, tc := range []struct {
		name string
		args []string
		err  string // a regexp
	}{
		{"no input", []string{addLabels}, `^--input is required: a file, or - for stdin$`},
		{"missing input file", []string{addLabels, "-i", at("none.yaml")}, `^read input: open .*none\.yaml: no such file or directory$`},
		{"invalid YAML", []string{addLabels, "-i", at("bad.yaml")}, `^input .*bad\.yaml: document 3 is not a YAML or JSON object: .*`},
		{"object without kind", []string{addLabels, "-i", at("nokind.yaml")}, `^input .*nokind\.yaml: document 1: not a Kubernetes object: no kind$`},
		{"ResourceList among objects", []string{addLabels, "-i", at("mixed.yaml")}, `^input .*mixed\.yaml: document 1: a ResourceList must be the only document$`},
		{"objects to a notifier", []string{notifier, "-i", at("objects.yaml")}, `^input .*objects\.yaml: want one Flux event, got 2 documents$`},
		{"an event to a transform", []string{addLabels, "-i", at("event.json")}, `^input .*event\.json: document 1: not a Kubernetes object: no apiVersion, no kind, no metadata\.name$`},
		{"undeclared kind", []string{addLabels, "--kind", "health", "-i", at("objects.yaml")}, `^--kind health: module add-labels declares transform$`},
		{"config not an object", []string{addLabels, "-i", at("objects.yaml"), "--config", "team=payments"}, `^--config must be a JSON or YAML object`},
		{"-o resourcelist for health", []string{badHealth, "-i", at("objects.yaml"), "-o", "resourcelist"}, `^-o resourcelist is for transforms$`},
		{"invalid verdict", []string{badHealth, "-i", at("objects.yaml")}, `^plugin default/bad-health: health: invalid output: unknown health status "Healthy"$`},
		{"runaway guest", []string{loop, "-i", at("objects.yaml"), "--timeout", "1s"}, `^plugin default/loop: transform: timed out: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			stdout, stderr, err := runPlugin(t, "", append([]string{"run", "--cache-dir", cache}, tc.args...)...)
			g.Expect(err).To(MatchError(MatchRegexp(tc.err)), stderr)
			g.Expect(stdout).To(BeEmpty())
		})
	}
}
