package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is where Debian's docker-registry package puts the
// registry; `make tools` installs it.
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a real OCI registry (the CNCF distribution registry from
// Debian's docker-registry package) on 127.0.0.1, with its storage in a
// temporary directory.
type Registry struct {
	// Host is host:port, for references such as Host+"/plugins/x:v1".
	Host     string
	Username string
	Password string
	cmd      *exec.Cmd
}

// RegistryOption configures StartRegistry.
type RegistryOption func(*Registry)

// WithBasicAuth makes the registry require these credentials (htpasswd).
func WithBasicAuth(user, password string) RegistryOption {
	return func(r *Registry) { r.Username, r.Password = user, password }
}

// StartRegistry starts a registry for the test; it stops when the test
// ends. It fails the test when the registry binary is missing.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	bin := os.Getenv("WEIR_REGISTRY_BIN")
	if bin == "" {
		bin = RegistryBinary
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("an OCI registry is needed for this test (run `make tools`, which installs Debian's docker-registry): %v", err)
	}
	r := &Registry{}
	for _, o := range opts {
		o(r)
	}
	dir := t.TempDir()
	port := freePort(t)
	r.Host = fmt.Sprintf("127.0.0.1:%d", port)
	auth := ""
	if r.Username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htpasswd)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "data"), r.Host, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cmd = exec.CommandContext(ctx, bin, "serve", cfgPath)
	var logs strings.Builder
	r.cmd.Stdout, r.cmd.Stderr = &logs, &logs
	r.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = r.cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry did not start on %s: %v\n%s", r.Host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DockerConfig returns a .dockerconfigjson with the registry's credentials.
func (r *Registry) DockerConfig() []byte {
	return fmt.Appendf(nil, `{"auths":{%q:{"username":%q,"password":%q}}}`, r.Host, r.Username, r.Password)
}

// Stop kills the registry (to test an unreachable registry).
func (r *Registry) Stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

func freePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(LoopbackAddr(t))
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
