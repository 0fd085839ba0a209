package cli

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/conformance/pluginabi"
	"github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/meta"
)

// cacheDir is a wazero compilation cache that outlives the test binary, so
// reruns do not recompile the same modules (the modules build reproducibly).
func cacheDir(t *testing.T) string {
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "weir-test", "wazero")
	}
	return t.TempDir()
}

// testHost is a plugin host with that cache.
func testHost(t *testing.T) *plugin.Host {
	t.Helper()
	h, err := plugin.NewHost(plugin.Options{CacheDir: cacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h
}

// fixture builds testdata/abifixtures/<src> and embeds md (none when nil).
func fixture(t *testing.T, src string, md *abi.Metadata) []byte {
	t.Helper()
	wasm := testenv.BuildModule(t, filepath.Join("testdata", "abifixtures", src))
	if md == nil {
		return wasm
	}
	// Appended as is: meta.Embed would refuse the invalid ones.
	payload, err := json.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	return meta.AppendCustomSection(wasm, abi.CustomSection, payload)
}

func metadata(name string, caps ...abi.Capability) *abi.Metadata {
	return &abi.Metadata{ABIVersion: abi.Version, Name: name, Version: "0.0.1", Capabilities: caps}
}

// TestPluginTestFixtures runs the kit on deliberately broken modules and
// asserts exactly which checks fail and with what message.
func TestPluginTestFixtures(t *testing.T) {
	transform := abi.CapabilityTransform
	wrongABI := metadata("wrong-abi", transform)
	wrongABI.ABIVersion = "v2"
	for _, tc := range []struct {
		name   string
		src    string
		meta   *abi.Metadata
		opts   pluginabi.Options
		failed map[string]string // check -> message, or a regexp in match
		match  bool
	}{
		{name: "no metadata", src: "passthrough", failed: map[string]string{
			"metadata": "the host refuses the metadata: no weir.plugin.v1 custom section"}},
		{name: "wrong ABI version", src: "passthrough", meta: wrongABI, failed: map[string]string{
			"metadata": `the host refuses the metadata: abiVersion "v2" not supported, want "v1"`}},
		{name: "missing extension point export", src: "missing-export", meta: metadata("missing-export", transform), match: true, failed: map[string]string{
			"exports": `^the host refuses the module: load plugin conformance/missing-export: validate sha256:[0-9a-f]{64}: invalid plugin module: missing export weir_transform$`}},
		{name: "foreign import", src: "bad-import", meta: metadata("bad-import", transform), match: true, failed: map[string]string{
			"imports":            `^imports env\.now: only wasi_snapshot_preview1 and weir may be imported$`,
			"transform/contract": `^transform of 4 objects: the guest trapped or could not start: get instance: create instance: instantiate sha256:[0-9a-f]{64}: module\[env\] not instantiated$`,
			"limits/timeout":     `^transform: the guest trapped or could not start: get instance: create instance: instantiate sha256:[0-9a-f]{64}: module\[env\] not instantiated$`}},
		{name: "non-deterministic", src: "nondeterministic", meta: metadata("nondeterministic", transform), failed: map[string]string{
			"transform/deterministic": `the second call on the same instance returned a different output at items[0].metadata.labels.call: "1" vs "3"`}},
		{name: "renames objects", src: "renames", meta: metadata("renames", transform), failed: map[string]string{
			"transform/identity": "4 input object(s) missing from the output with no result naming them (renamed or dropped silently): " +
				"v1/Namespace apps, v1/ConfigMap apps/web-config, apps/v1/Deployment apps/web, v1/Service apps/web; " +
				"the output has new object(s): v1/Namespace apps-v2, v1/ConfigMap apps/web-config-v2, apps/v1/Deployment apps/web-v2, v1/Service apps/web-v2",
			"transform/large": "transform of 200 ConfigMaps: 200 input object(s) missing from the output with no result naming them (renamed or dropped silently): " +
				"v1/ConfigMap apps/cm-00000, v1/ConfigMap apps/cm-00001, v1/ConfigMap apps/cm-00002, v1/ConfigMap apps/cm-00003, v1/ConfigMap apps/cm-00004 and 195 more; " +
				"the output has new object(s): v1/ConfigMap apps/cm-00000-v2, v1/ConfigMap apps/cm-00001-v2, v1/ConfigMap apps/cm-00002-v2, v1/ConfigMap apps/cm-00003-v2, v1/ConfigMap apps/cm-00004-v2 and 195 more"}},
		{name: "drops objects", src: "drops", meta: metadata("drops", transform), failed: map[string]string{
			"transform/identity": "1 input object(s) missing from the output with no result naming them (renamed or dropped silently): v1/ConfigMap apps/web-config",
			"transform/large": "transform of 200 ConfigMaps: 200 input object(s) missing from the output with no result naming them (renamed or dropped silently): " +
				"v1/ConfigMap apps/cm-00000, v1/ConfigMap apps/cm-00001, v1/ConfigMap apps/cm-00002, v1/ConfigMap apps/cm-00003, v1/ConfigMap apps/cm-00004 and 195 more"}},
		{name: "results without severity about a missing object", src: "bad-results", meta: metadata("bad-results", transform), failed: map[string]string{
			"transform/results": `result 0 has severity "", want error, warning or info; result 0 names v1/Secret apps/ghost, which is neither in the input nor in the output`,
			"transform/empty":   `result 0 has severity "", want error, warning or info; result 0 names v1/Secret apps/ghost, which is neither in the input nor in the output`,
			"transform/large":   `transform of 200 ConfigMaps: result 0 has severity "", want error, warning or info; result 0 names v1/Secret apps/ghost, which is neither in the input nor in the output`}},
		{name: "invalid health status", src: "bad-health", meta: metadata("bad-health", abi.CapabilityHealth), failed: map[string]string{
			"health/contract": `health of example.com/v1 Widget "failed": invalid output: unknown health status "Healthy"`}},
		{name: "runaway loop", src: "loop", meta: metadata("loop", transform), opts: pluginabi.Options{Timeout: time.Second}, failed: map[string]string{
			"transform/contract": "transform of 4 objects: stopped after the 1s timeout: the guest did not return",
			"limits/timeout":     "transform: stopped after the 1s timeout: the guest did not return"}},
		// The timeout is generous so that only the memory limit can stop
		// this guest, however slowly a loaded machine runs it.
		{name: "allocates past the limit", src: "oom", meta: metadata("oom", transform), opts: pluginabi.Options{MemoryPages: 1024, Timeout: 2 * time.Minute}, failed: map[string]string{
			"transform/contract": "transform of 4 objects: exceeded the memory limit of 1024 pages (64 MiB)",
			"limits/timeout":     "transform: exceeded the memory limit of 1024 pages (64 MiB)"}},
		{name: "claims delivery", src: "notify-lies", meta: metadata("notify-lies", abi.CapabilityNotify), match: true, failed: map[string]string{
			"notify/contract": `^delivered: true but no request reached the sink at http://127\.0\.0\.1:\d+/hook$`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			opts := tc.opts
			if opts.Timeout == 0 {
				opts.Timeout = time.Minute
			}
			opts.LargeItems = 200
			m := &abiModule{host: testHost(t), wasm: fixture(t, tc.src, tc.meta), name: tc.src}
			rep := pluginabi.Run(context.Background(), m, opts)
			failed := map[string]string{}
			for _, r := range rep.Results {
				if r.Status == pluginabi.Fail {
					failed[r.Check] = r.Message
				}
			}
			g.Expect(failed).To(HaveLen(len(tc.failed)), "failed checks: %v", failed)
			for check, want := range tc.failed {
				if tc.match {
					g.Expect(failed).To(HaveKeyWithValue(check, MatchRegexp(want)))
				} else {
					g.Expect(failed).To(HaveKeyWithValue(check, want))
				}
			}
		})
	}
}

// TestPluginTestExamples runs `engine plugin test` on the example plugins
// (each must pass), on a broken module (exit status and JUnit report) and on
// an OCI artifact, unverified and verified.
func TestPluginTestExamples(t *testing.T) {
	dir := t.TempDir()
	cache := cacheDir(t)
	write := func(name string, wasm []byte) string {
		p := filepath.Join(dir, name+".wasm")
		if err := os.WriteFile(p, wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, name := range []string{"add-labels", "deny-latest-tag", "phase-health", "webhook-notifier", "cert-health"} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			out, err := run(t, "test", "--large", "500", "--cache-dir", cache, "--kind", "example.com/v1/Database",
				write(name, testenv.ExamplePlugin(t, name)))
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(MatchRegexp(`(?m)^PASS: \d+ passed, 0 failed, 0 skipped in `))
			g.Expect(out).NotTo(ContainSubstring("fail "))
		})
	}

	t.Run("broken module", func(t *testing.T) {
		g := NewWithT(t)
		report := filepath.Join(dir, "report.xml")
		path := write("no-metadata", fixture(t, "passthrough", nil))
		out, err := run(t, "test", "--cache-dir", cache, "-o", "junit="+report, path)
		g.Expect(err).To(MatchError("1 of 3 plugin ABI checks failed"))
		g.Expect(out).To(MatchRegexp(`(?m)^fail  metadata +\d+ms  the host refuses the metadata: no weir.plugin.v1 custom section$`))
		g.Expect(out).To(MatchRegexp(`(?m)^skip  exports +\d+ms  metadata failed$`))
		g.Expect(out).To(ContainSubstring("FAIL: 0 passed, 1 failed, 2 skipped"))
		raw, err := os.ReadFile(report)
		g.Expect(err).NotTo(HaveOccurred())
		var doc struct {
			Suites []struct {
				Name     string `xml:"name,attr"`
				Tests    int    `xml:"tests,attr"`
				Failures int    `xml:"failures,attr"`
				Cases    []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Message string `xml:"message,attr"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		g.Expect(xml.Unmarshal(raw, &doc)).To(Succeed())
		g.Expect(doc.Suites).To(HaveLen(1))
		s := doc.Suites[0]
		g.Expect([]any{s.Name, s.Tests, s.Failures}).To(Equal([]any{path, 3, 1}))
		g.Expect(s.Cases[0].Name).To(Equal("metadata"))
		g.Expect(s.Cases[0].Failure).NotTo(BeNil())
		g.Expect(s.Cases[0].Failure.Message).To(Equal("the host refuses the metadata: no weir.plugin.v1 custom section"))
	})

	t.Run("OCI artifact", func(t *testing.T) {
		g := NewWithT(t)
		reg := testenv.StartRegistry(t)
		t.Setenv(PasswordEnv, "pw")
		t.Setenv("DOCKER_CONFIG", dir)
		ref := "oci://" + reg.Host + "/plugins/phase-health:v1"
		for _, args := range [][]string{
			{"keygen", "--output-key-prefix", filepath.Join(dir, "cosign")},
			{"push", write("phase-health", testenv.ExamplePlugin(t, "phase-health")), ref},
		} {
			out, err := run(t, args...)
			g.Expect(err).NotTo(HaveOccurred(), out)
		}
		out, err := run(t, "test", "--large", "500", "--cache-dir", cache, ref)
		g.Expect(err).NotTo(HaveOccurred(), out)
		g.Expect(out).To(MatchRegexp(`(?m)^artifact ` + reg.Host + `/plugins/phase-health@sha256:[0-9a-f]{64}: UNVERIFIED \(no --key given\)$`))

		pub := filepath.Join(dir, "cosign.pub")
		_, err = run(t, "test", "--key", pub, ref)
		g.Expect(err).To(MatchError(ContainSubstring("no signature found")), "an unsigned artifact must not be tested as verified")
		out, err = run(t, "sign", "--key", filepath.Join(dir, "cosign.key"), ref)
		g.Expect(err).NotTo(HaveOccurred(), out)
		out, err = run(t, "test", "--large", "500", "--cache-dir", cache, "--key", pub, ref)
		g.Expect(err).NotTo(HaveOccurred(), out)
		g.Expect(out).To(ContainSubstring(": verified (keys: " + pub + ")"))
		g.Expect(out).To(ContainSubstring("PASS: 8 passed"))
	})
}
