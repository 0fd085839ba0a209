package oci

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// TestRealRegistry runs the whole path against Debian's docker-registry
// with basic auth: push, sign, verify, pull.
func TestRealRegistry(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("weir", "s3cret-pw"))
	kc, err := KeychainFromDockerConfig(reg.DockerConfig())
	g.Expect(err).NotTo(HaveOccurred())

	_, err = Push(ctx, wasmModule, reg.Host+"/plugins/p:v1", testModule)
	g.Expect(err).To(HaveOccurred(), "anonymous push must be refused")
	g.Expect(err.Error()).NotTo(ContainSubstring("s3cret-pw"))

	d, err := Push(ctx, wasmModule, reg.Host+"/plugins/p:v1", testModule, WithKeychain(kc))
	g.Expect(err).NotTo(HaveOccurred())
	kp := keyPair(t)
	s, err := LoadSigner(kp.Private, []byte("pw"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Sign(ctx, d, s, WithKeychain(kc))).To(Succeed())

	_, err = Verify(ctx, d, map[string][]byte{"k.pub": kp.Public}, PolicyAny, WithKeychain(kc))
	g.Expect(err).NotTo(HaveOccurred())
	a, err := Pull(ctx, d, Limits{}, WithKeychain(kc))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a.Wasm).To(Equal(wasmModule))

	reg.Stop()
	_, err = Verify(ctx, d, map[string][]byte{"k.pub": kp.Public}, PolicyAny, WithKeychain(kc))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err).NotTo(MatchError(ErrNotVerified), "a registry that is down is not a bad signature")
}

// TestCosignCLIInterop checks both directions against the cosign CLI: it
// verifies what Weir signs, and Weir verifies what it signs.
func TestCosignCLIInterop(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	cosignBin := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t)
	dir := t.TempDir()
	kp := keyPair(t)
	g.Expect(os.WriteFile(filepath.Join(dir, "weir.key"), kp.Private, 0o600)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "weir.pub"), kp.Public, 0o600)).To(Succeed())

	cosign := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cosignBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=pw", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "SIGSTORE_NO_CACHE=true")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Weir signs, cosign verifies.
	d, err := Push(ctx, wasmModule, reg.Host+"/plugins/weir-signed:v1", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	s, err := LoadSigner(kp.Private, []byte("pw"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(Sign(ctx, d, s)).To(Succeed())
	out, err := cosign("verify", "--key", "weir.pub", "--insecure-ignore-tlog=true", "--allow-http-registry", d.String())
	g.Expect(err).NotTo(HaveOccurred(), out)

	// cosign signs with a key it made, Weir verifies.
	out, err = cosign("generate-key-pair", "--output-key-prefix", "cli")
	g.Expect(err).NotTo(HaveOccurred(), out)
	d2, err := Push(ctx, append(append([]byte{}, wasmModule...), 1), reg.Host+"/plugins/cosign-signed:v1", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	out, err = cosign("sign", "--key", "cli.key", "--tlog-upload=false", "--yes", "--allow-http-registry", d2.String())
	g.Expect(err).NotTo(HaveOccurred(), out)
	pub, err := os.ReadFile(filepath.Join(dir, "cli.pub"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = Verify(ctx, d2, map[string][]byte{"cli.pub": pub}, PolicyAny)
	g.Expect(err).NotTo(HaveOccurred())

	// cosign's own key pair loads as a Weir signer and the reverse.
	cliKey, err := os.ReadFile(filepath.Join(dir, "cli.key"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = LoadSigner(cliKey, []byte("pw"))
	g.Expect(err).NotTo(HaveOccurred())

	// A key that did not sign is refused by both.
	out, err = cosign("verify", "--key", "cli.pub", "--insecure-ignore-tlog=true", "--allow-http-registry", d.String())
	g.Expect(err).To(HaveOccurred(), out)
	g.Expect(strings.ToLower(out)).To(ContainSubstring("no matching signatures"))
}
