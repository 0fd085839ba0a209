package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewPluginCmd(&out, &errOut)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

// TestPluginCommands runs keygen, push, sign, verify and pull against a
// real registry with a real example plugin.
func TestPluginCommands(t *testing.T) {
	g := NewWithT(t)
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	t.Setenv(PasswordEnv, "correct horse")
	t.Setenv("DOCKER_CONFIG", dir) // no credentials from the machine
	wasmPath := filepath.Join(dir, "add-labels.wasm")
	g.Expect(os.WriteFile(wasmPath, testenv.ExamplePlugin(t, "add-labels"), 0o644)).To(Succeed())

	out, err := run(t, "keygen", "--output-key-prefix", filepath.Join(dir, "cosign"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = run(t, "keygen", "--output-key-prefix", filepath.Join(dir, "other"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	_, err = run(t, "keygen", "--output-key-prefix", filepath.Join(dir, "cosign"))
	g.Expect(err).To(HaveOccurred(), "keygen never overwrites a key")

	ref := "oci://" + reg.Host + "/plugins/add-labels:v1"
	out, err = run(t, "push", wasmPath, ref)
	g.Expect(err).NotTo(HaveOccurred(), out)
	digestRef := strings.TrimSpace(out)
	g.Expect(digestRef).To(MatchRegexp(`^` + reg.Host + `/plugins/add-labels@sha256:[0-9a-f]{64}$`))

	out, err = run(t, "verify", "--key", filepath.Join(dir, "cosign.pub"), ref)
	g.Expect(err).To(HaveOccurred(), "unsigned must not verify")
	g.Expect(out + err.Error()).To(ContainSubstring("no signature found"))

	out, err = run(t, "sign", "--key", filepath.Join(dir, "cosign.key"), ref)
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring(digestRef))

	out, err = run(t, "verify", "--key", filepath.Join(dir, "cosign.pub"), ref)
	g.Expect(err).NotTo(HaveOccurred(), out)
	_, err = run(t, "verify", "--key", filepath.Join(dir, "other.pub"), ref)
	g.Expect(err).To(HaveOccurred(), "another key must not verify")
	_, err = run(t, "verify", "--policy", "All", "--key", filepath.Join(dir, "cosign.pub"), "--key", filepath.Join(dir, "other.pub"), ref)
	g.Expect(err).To(HaveOccurred(), "policy All needs every key")

	pulled := filepath.Join(dir, "pulled.wasm")
	out, err = run(t, "pull", "--key", filepath.Join(dir, "cosign.pub"), "-o", pulled, digestRef)
	g.Expect(err).NotTo(HaveOccurred(), out)
	got, err := os.ReadFile(pulled)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(testenv.ExamplePlugin(t, "add-labels")))

	_, err = run(t, "push", filepath.Join(dir, "cosign.pub"), ref)
	g.Expect(err).To(MatchError(ContainSubstring("is not a Weir plugin")))

	t.Setenv(PasswordEnv, "wrong")
	_, err = run(t, "sign", "--key", filepath.Join(dir, "cosign.key"), ref)
	g.Expect(err).To(HaveOccurred(), "a wrong password must not sign")
}
