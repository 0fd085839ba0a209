package engine

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/demo"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoFlow runs what `make run` runs, against the test control plane:
// the engine, then the demo, and expects every object to be narrated
// Ready, the plugin's labels on the applied objects, and a change to the
// demo folder to reach the cluster through the printed webhook.
func TestDemoFlow(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := DefaultConfig()
	cfg.MetricsAddr, cfg.HealthAddr, cfg.StorageAddr, cfg.ReceiverAddr = "0", freeAddr(t), freeAddr(t), freeAddr(t)
	cfg.StoragePath, cfg.PluginCacheDir = t.TempDir(), t.TempDir()
	e, err := newWithREST(cfg, env.Config, logr.Discard())
	g.Expect(err).NotTo(HaveOccurred())
	done := make(chan error, 1)
	go func() { done <- e.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	g.Expect(os.CopyFS(repo, os.DirFS("../demo/repo"))).To(Succeed())
	wasm := filepath.Join(dir, "add-labels.wasm")
	g.Expect(os.WriteFile(wasm, testenv.ExamplePlugin(t, "add-labels"), 0o644)).To(Succeed())
	out := &syncBuffer{}
	go func() {
		_ = demo.Run(ctx, env.Client, demo.Options{RepoDir: repo, WorkDir: filepath.Join(dir, "work"), PluginWasm: wasm,
			RegistryBin: testenv.RegistryBinary, ReceiverAddr: cfg.ReceiverAddr, Out: out, Log: logr.Discard()})
	}()

	g.Eventually(func(g Gomega) {
		s := out.String()
		g.Expect(s).To(MatchRegexp(`GitRepository weir-demo/demo +✔ revision main@sha1:[0-9a-f]{40}`))
		g.Expect(s).To(MatchRegexp(`Plugin weir-demo/add-labels +✔ serving sha256:[0-9a-f]{64}, signature verified`))
		g.Expect(s).To(MatchRegexp(`Kustomization weir-demo/infra +✔ applied main@sha1:[0-9a-f]{40}: 1 object`))
		g.Expect(s).To(MatchRegexp(`Kustomization weir-demo/apps +✔ applied main@sha1:[0-9a-f]{40}: 3 objects, transformed by weir-demo/add-labels@sha256:`))
		g.Expect(s).To(ContainSubstring("curl -X POST http://" + cfg.ReceiverAddr + "/hook/"))
		g.Expect(s).To(ContainSubstring("ConfigMap/weir-demo-apps/welcome"), "the applied objects are named")
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed(), func() string { return out.String() })

	cm := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "weir-demo-apps", Name: "welcome"}, cm)).To(Succeed())
	g.Expect(cm.Labels).To(HaveKeyWithValue("team", "demo"), "the plugin's labels are on the applied objects")

	// Edit the folder, call the printed webhook: the change is applied.
	welcome := filepath.Join(repo, "apps", "welcome.yaml")
	b, err := os.ReadFile(welcome)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.WriteFile(welcome, []byte(strings.Replace(string(b), "Hello from Weir.", "Changed through the webhook.", 1)), 0o644)).To(Succeed())
	g.Eventually(out.String, 20*time.Second, 200*time.Millisecond).Should(ContainSubstring("changed: committed"))
	hook := regexpFind(out.String(), `curl -X POST (http://\S+)`)
	g.Expect(hook).NotTo(BeEmpty())
	g.Eventually(func(g Gomega) {
		resp, err := httpPost(hook)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp).To(Equal(200))
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: "weir-demo-apps", Name: "welcome"}, cm)).To(Succeed())
		g.Expect(cm.Data["message"]).To(HavePrefix("Changed through the webhook."))
	}, 30*time.Second, time.Second).Should(Succeed())
}

func regexpFind(s, expr string) string {
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

func httpPost(url string) (int, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
