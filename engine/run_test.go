package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// buildEngine builds cmd/engine once per test binary run.
func buildEngine(t testing.TB) string {
	t.Helper()
	engineOnce.Do(func() {
		bin := filepath.Join(binDir, "engine")
		// As make build and the image build it: without cgo. With cgo,
		// kustomize's import of Go's plugin package makes the linker export
		// every symbol, which adds about 25 MB of symbol tables to what the
		// process maps (docs/decisions/0007-quiet-reconciles.md).
		cmd := exec.Command("go", "build", "-o", bin, "../cmd/engine")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			engineErr = fmt.Errorf("building the engine: %w\n%s", err, out)
			return
		}
		engineBin = bin
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engineBin
}

var (
	engineOnce sync.Once
	engineBin  string
	engineErr  error
)

func freeAddr(t testing.TB) string { t.Helper(); return testenv.LoopbackAddr(t) }

// TestRunReadyAndSIGTERM starts the real binary against the test control
// plane, waits for /readyz, sends SIGTERM and expects a clean exit 0.
func TestRunReadyAndSIGTERM(t *testing.T) {
	g := NewWithT(t)
	bin := buildEngine(t)
	health, metrics, storage, hooks := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "run",
		"--kubeconfig", env.KubeconfigFile(t),
		"--health-addr", health, "--metrics-addr", metrics,
		"--storage-path", t.TempDir(), "--storage-addr", storage, "--receiver-addr", hooks, "--plugin-cache-dir", t.TempDir(),
		"--leader-elect", "--leader-election-namespace", env.Namespace(t),
	)
	cmd.Stderr = &stderr
	g.Expect(cmd.Start()).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	g.Eventually(func() (int, error) {
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}, 60*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))

	resp, err := http.Get("http://" + metrics + "/metrics")
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))

	// The binary wires the stages: a Receiver becomes Ready.
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "token", map[string]string{"token": "t0k3n"}))).To(Succeed())
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "app")
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	g.Eventually(func() string {
		got := &notificationv1.Receiver{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)
		return got.Status.WebhookPath
	}, 30*time.Second, 200*time.Millisecond).Should(HavePrefix("/hook/"))

	// A GitRepository gets an artifact served by the binary's own server.
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	sha := repo.Commit("first", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\n"})
	gr := testenv.GitRepository(ns, "app", git.URL("app"))
	g.Expect(env.Client.Create(ctx, gr)).To(Succeed())
	var artifactURL string
	g.Eventually(func(g Gomega) {
		got := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(gr), got)).To(Succeed())
		g.Expect(got.Status.Artifact).NotTo(BeNil())
		g.Expect(got.Status.Artifact.Revision).To(Equal("main@sha1:" + sha))
		artifactURL = got.Status.Artifact.URL
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(artifactURL).To(HavePrefix("http://" + storage + "/gitrepository/"))

	// A Kustomization applies the artifact fetched from the binary's server.
	ks := testenv.Kustomization(ns, "app", "app", "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	g.Eventually(func() error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "from-git"}, &corev1.ConfigMap{})
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	resp, err = http.Get(artifactURL)
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK))

	// A webhook on the Receiver's path makes the GitRepository fetch a new
	// commit at once (its interval is a minute).
	sha2 := repo.Commit("second", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {k: v2}\n"})
	hookRcv := testenv.Receiver(ns, "app-hook", notificationv1.GenericReceiver, "token", "app")
	g.Expect(env.Client.Create(ctx, hookRcv)).To(Succeed())
	var hookPath string
	g.Eventually(func() string {
		got := &notificationv1.Receiver{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(hookRcv), got)
		hookPath = got.Status.WebhookPath
		return hookPath
	}, 30*time.Second, 200*time.Millisecond).ShouldNot(BeEmpty())
	g.Eventually(func() (int, error) {
		resp, err := http.Post("http://"+hooks+hookPath, "application/json", strings.NewReader("{}"))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}, 10*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
	g.Eventually(func() string {
		got := &sourcev1.GitRepository{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(gr), got)
		if got.Status.Artifact == nil {
			return ""
		}
		return got.Status.Artifact.Revision
	}, 20*time.Second, 200*time.Millisecond).Should(Equal("main@sha1:" + sha2))
	g.Eventually(func() string {
		cm := &corev1.ConfigMap{}
		_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "from-git"}, cm)
		return cm.Data["k"]
	}, 20*time.Second, 200*time.Millisecond).Should(Equal("v2"))

	g.Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
	select {
	case err := <-done:
		g.Expect(err).NotTo(HaveOccurred(), "stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("engine did not exit within 30s of SIGTERM; stderr:\n%s", stderr.String())
	}
	g.Expect(stderr.String()).To(ContainSubstring("engine stopped"))
}

// TestRunErrorsAreOneLine checks that bad invocations fail fast with one
// clear line on stderr and a non-zero exit, never a stack trace.
func TestRunErrorsAreOneLine(t *testing.T) {
	bin := buildEngine(t)
	unreachable := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, freeAddr(t))
	if err := os.WriteFile(unreachable, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"run", "--no-such-flag"}, "error: unknown flag: --no-such-flag"},
		{"bad duration", []string{"run", "--graceful-shutdown-timeout", "soon"}, `invalid argument "soon" for "--graceful-shutdown-timeout"`},
		{"invalid values", []string{"run", "--concurrent", "0", "--log-format", "xml"}, "--concurrent: must be between 1 and 1000, got 0; --log-format"},
		{"missing kubeconfig", []string{"run", "--kubeconfig", "/does/not/exist"}, "error: loading kubeconfig /does/not/exist"},
		{"unreachable cluster", []string{"run", "--kubeconfig", unreachable, "--cluster-connect-timeout", "2s"}, "error: cannot reach the Kubernetes API server at https://"},
		{"unknown command", []string{"launch"}, `error: unknown command "launch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("want exit code 1, got %v; stderr: %s", err, stderr.String())
			}
			out := strings.TrimRight(stderr.String(), "\n")
			if strings.Contains(out, "\n") || strings.Contains(out, "goroutine ") {
				t.Fatalf("want one line on stderr, got:\n%s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Fatalf("want %q in stderr, got %q", tt.want, out)
			}
		})
	}
}
