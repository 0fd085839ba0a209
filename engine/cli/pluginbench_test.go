package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/meta"
)

// TestPluginBench measures the example plugins briefly and checks what is
// reported, in text and in JSON.
func TestPluginBench(t *testing.T) {
	in := files(t, map[string]string{"databases.yaml": databasesYAML, "objects.yaml": objectsYAML})
	cache := cacheDir(t)
	addLabels := examplePath(t, in, "add-labels")
	health := examplePath(t, in, "phase-health")

	t.Run("text", func(t *testing.T) {
		g := NewWithT(t)
		stdout, stderr, err := runPlugin(t, "", "bench", addLabels, "--large", "20", "--count", "3", "--config", "team: payments", "--cache-dir", cache)
		g.Expect(err).NotTo(HaveOccurred(), stderr)
		g.Expect(stderr).To(ContainSubstring("module " + addLabels))
		for _, line := range []string{
			`^add-labels 0\.1\.0 \(sha256:[0-9a-f]{64}\) transform, 20 item\(s\)$`,
			`^calls +3 in [\d.]+(µs|ms|s)$`,
			`^mean +[\d.]+(µs|ms|s)$`, `^p50 +[\d.]+(µs|ms|s)$`, `^p99 +[\d.]+(µs|ms|s)$`,
			`^per item +[\d.]+(µs|ms|s)$`,
			`^host allocs +\d+ per call \(\d+\.\d (KiB|MiB)\)$`,
			`^guest memory +\d+\.\d MiB \(\d+ pages\)$`,
		} {
			g.Expect(stdout).To(MatchRegexp(`(?m)` + line))
		}
	})

	t.Run("json", func(t *testing.T) {
		g := NewWithT(t)
		stdout, stderr, err := runPlugin(t, "", "bench", health, "-i", filepath.Join(in, "databases.yaml"), "--count", "5", "-o", "json", "--cache-dir", cache)
		g.Expect(err).NotTo(HaveOccurred(), stderr)
		var rep benchReport
		g.Expect(json.Unmarshal([]byte(stdout), &rep)).To(Succeed(), stdout)
		g.Expect(rep.Module).To(Equal("phase-health"))
		g.Expect(rep.Kind).To(Equal("health"))
		g.Expect(rep.Objects).To(Equal(2))
		g.Expect(rep.Calls).To(Equal(5))
		g.Expect(rep.P50Ns).To(BeNumerically(">", 0))
		g.Expect(rep.P99Ns).To(BeNumerically(">=", rep.P50Ns))
		g.Expect(rep.PerObjectNs).To(Equal(rep.MeanNs), "one object per health call")
		g.Expect(rep.AllocsPerCall).To(BeNumerically(">", 0))
		g.Expect(rep.GuestMemoryPages).To(BeNumerically(">", 0))
		g.Expect(rep.GuestMemoryBytes).To(Equal(rep.GuestMemoryPages * 64 << 10))
	})

	t.Run("duration", func(t *testing.T) {
		g := NewWithT(t)
		stdout, stderr, err := runPlugin(t, "", "bench", addLabels, "-i", filepath.Join(in, "objects.yaml"), "--duration", "200ms", "-o", "json", "--cache-dir", cache)
		g.Expect(err).NotTo(HaveOccurred(), stderr)
		var rep benchReport
		g.Expect(json.Unmarshal([]byte(stdout), &rep)).To(Succeed(), stdout)
		g.Expect(rep.Calls).To(BeNumerically(">=", 1))
		g.Expect(rep.TotalNs).To(BeNumerically(">=", 200e6))
		g.Expect(rep.PerObjectNs).To(Equal(rep.MeanNs / 2))
	})

	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"no input", []string{addLabels}, "--input (a file, or - for stdin) or --large N is required"},
		{"--large for health", []string{health, "--large", "10"}, "--large generates transform input; give health input with --input"},
		{"count and duration", []string{addLabels, "--large", "1", "--count", "2", "--duration", "1s"}, "if any flags in the group [count duration] are set none of the others can be; [count duration] were all set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runPlugin(t, "", append([]string{"bench", "--cache-dir", cache}, tc.args...)...)
			NewWithT(t).Expect(err).To(MatchError(tc.err))
		})
	}
}

// TestPluginRunOCI runs a signed artifact verified with its key, refuses it
// with another key, and runs an unsigned one only without a key.
func TestPluginRunOCI(t *testing.T) {
	g := NewWithT(t)
	reg := testenv.StartRegistry(t)
	dir := files(t, map[string]string{"objects.yaml": objectsYAML})
	t.Setenv(PasswordEnv, "pw")
	t.Setenv("DOCKER_CONFIG", dir)
	wasm := examplePath(t, dir, "add-labels")
	// Another digest for the unsigned tag: the same module with one more
	// custom section.
	other := filepath.Join(dir, "add-labels-unsigned.wasm")
	g.Expect(os.WriteFile(other, meta.AppendCustomSection(testenv.ExamplePlugin(t, "add-labels"), "note", []byte("unsigned")), 0o644)).To(Succeed())
	signed := "oci://" + reg.Host + "/plugins/add-labels:signed"
	unsigned := "oci://" + reg.Host + "/plugins/add-labels:unsigned"
	for _, args := range [][]string{
		{"keygen", "--output-key-prefix", filepath.Join(dir, "cosign")},
		{"keygen", "--output-key-prefix", filepath.Join(dir, "other")},
		{"push", wasm, signed},
		{"sign", "--key", filepath.Join(dir, "cosign.key"), signed},
		{"push", other, unsigned},
	} {
		_, stderr, err := runPlugin(t, "", args...)
		g.Expect(err).NotTo(HaveOccurred(), stderr)
	}
	run := func(ref string, extra ...string) (string, string, error) {
		return runPlugin(t, "", append([]string{"run", ref, "-i", filepath.Join(dir, "objects.yaml"),
			"--config", `{"team": "payments"}`, "--cache-dir", cacheDir(t)}, extra...)...)
	}

	stdout, stderr, err := run(signed, "--key", filepath.Join(dir, "cosign.pub"))
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stderr).To(MatchRegexp(`artifact ` + reg.Host + `/plugins/add-labels@sha256:[0-9a-f]{64}: verified \(keys: .*cosign\.pub\)`))
	golden(t, filepath.Join("pluginrun", "add-labels.yaml"), stdout)

	stdout, _, err = run(signed, "--key", filepath.Join(dir, "other.pub"))
	g.Expect(err).To(HaveOccurred(), "another key must not verify")
	g.Expect(stdout).To(BeEmpty())

	_, _, err = run(unsigned, "--key", filepath.Join(dir, "cosign.pub"))
	g.Expect(err).To(MatchError(ContainSubstring("no signature found")), "an unsigned artifact must not run as verified")

	_, stderr, err = run(unsigned)
	g.Expect(err).NotTo(HaveOccurred(), stderr)
	g.Expect(stderr).To(ContainSubstring(": UNVERIFIED (no --key given)"))
}
