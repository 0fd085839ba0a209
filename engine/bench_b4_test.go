package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB4 measures a webhook's path to a new revision with many idle
// Kustomizations around: WEIR_B4_IDLE Kustomizations (default 200) sit
// Ready on one GitRepository, then for one other repository a commit is
// pushed and a signed GitHub push webhook POSTed, and the time from the
// request to that repository's Kustomization Ready at the new revision is
// recorded, over 10 pushes (p50 and max), with the engine binary as its own
// process. Then it measures webhook throughput from 8 clients: valid
// signed pushes (each patches the GitRepository) and pushes with a wrong
// signature, checking that the refused ones cause no API request.
func BenchmarkB4(b *testing.B) {
	idle := 200
	if v, err := strconv.Atoi(os.Getenv("WEIR_B4_IDLE")); err == nil && v >= 0 {
		idle = v
	}
	b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runB4(b, idle, 10)
		}
	})
}

// b4Token is the GitHub Receiver's secret.
const b4Token = "b4-token"

func runB4(b *testing.B, idle, pushes int) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(b)
	git := testenv.NewGitServer(b)
	idleRepo := git.NewRepo(b, "idle")
	idleRepo.Commit("idle", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: idle}\ndata: {k: v}\n"})
	hot := git.NewRepo(b, "hot")
	hot.Commit("first", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hot}\ndata: {n: \"0\"}\n"})

	receiverAddr, metricsAddr := freeAddr(b), freeAddr(b)
	bin := buildEngine(b)
	cmd := exec.CommandContext(ctx, bin, "run", "--kubeconfig", env.KubeconfigFile(b),
		"--health-addr", freeAddr(b), "--metrics-addr", metricsAddr, "--storage-path", b.TempDir(),
		"--storage-addr", freeAddr(b), "--receiver-addr", receiverAddr, "--plugin-cache-dir", b.TempDir(),
		"--watch-namespace", ns, "--log-level", "error")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	create := func(o client.Object) {
		if err := env.Client.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	create(testenv.GitRepository(ns, "idle", git.URL("idle")))
	for i := 0; i < idle; i++ {
		name := fmt.Sprintf("idle-%04d", i)
		create(testenv.Kustomization(ns, name, "idle", "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace, k.Spec.NamePrefix = ns, name+"-"
		}))
	}
	create(testenv.GitRepository(ns, "hot", git.URL("hot")))
	create(testenv.Kustomization(ns, "hot", "hot", "./app", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns }))
	create(testenv.Secret(ns, "token", map[string]string{"token": b4Token}))
	create(testenv.Receiver(ns, "github", notificationv1.GitHubReceiver, "token", "hot"))

	// Everything Ready first: the idle objects are idle from here on.
	waitUntil(b, 10*time.Minute, func() bool {
		var list kustomizev1.KustomizationList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		ready := 0
		for i := range list.Items {
			if conditions.IsReady(&list.Items[i]) {
				ready++
			}
		}
		return ready == idle+1
	}, &stderr)
	var path string
	waitUntil(b, time.Minute, func() bool {
		r := &notificationv1.Receiver{}
		if env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "github"}, r) != nil {
			return false
		}
		path = r.Status.WebhookPath
		return path != ""
	}, &stderr)

	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"weir/hot"}}`)
	signature := signGitHub(body)
	var times []time.Duration
	for i := 1; i <= pushes; i++ {
		sha := hot.Commit(fmt.Sprintf("push %d", i), map[string]string{"app/cm.yaml": fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hot}\ndata: {n: \"%d\"}\n", i)})
		req, _ := http.NewRequest(http.MethodPost, "http://"+receiverAddr+path, bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-Hub-Signature-256", signature)
		req.Header.Set("Content-Type", "application/json")
		b.StartTimer()
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("webhook answered %d", resp.StatusCode)
		}
		want := "main@sha1:" + sha
		waitUntil(b, time.Minute, func() bool {
			k := &kustomizev1.Kustomization{}
			if env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "hot"}, k) != nil {
				return false
			}
			return conditions.IsReady(k) && k.Status.LastAppliedRevision == want
		}, &stderr)
		times = append(times, time.Since(start))
		b.StopTimer()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Milliseconds()), "ms-p50")
	b.ReportMetric(float64(times[len(times)-1].Milliseconds()), "ms-max")

	// Throughput: valid pushes (each one patches the GitRepository) and
	// pushes with a wrong signature, which must not reach the API server.
	url := "http://" + receiverAddr + path
	valid := hookThroughput(b, url, body, signature, 1000)
	before := totalAPIRequests(b, metricsAddr)
	invalid := hookThroughput(b, url, body, "sha256="+hex.EncodeToString(make([]byte, 32)), 5000)
	if d := totalAPIRequests(b, metricsAddr) - before; d > 20 {
		// The idle objects may requeue meanwhile; webhooks would be 5000.
		b.Fatalf("%v API requests while invalid webhooks were refused", d)
	}
	b.ReportMetric(valid, "valid-req/s")
	b.ReportMetric(invalid, "invalid-req/s")
}

// hookThroughput POSTs n GitHub push webhooks with signature from 8
// clients and returns requests per second; every answer must be 200 for a
// valid signature and 401 otherwise.
func hookThroughput(b *testing.B, url string, body []byte, signature string, n int) float64 {
	b.Helper()
	want := http.StatusUnauthorized
	if signature == signGitHub(body) {
		want = http.StatusOK
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		go func() {
			for range work {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-Hub-Signature-256", signature)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					errs <- fmt.Errorf("webhook answered %d, want %d", resp.StatusCode, want)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

func signGitHub(body []byte) string {
	mac := hmac.New(sha256.New, []byte(b4Token))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// totalAPIRequests sums the engine's requests to the API server over every
// method.
func totalAPIRequests(b *testing.B, addr string) float64 {
	b.Helper()
	byMethod, err := apiRequests(addr)
	if err != nil {
		b.Fatal(err)
	}
	if len(byMethod) == 0 {
		b.Fatal("the engine's metrics have no rest_client_requests_total")
	}
	total := 0.0
	for _, n := range byMethod {
		total += n
	}
	return total
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(b *testing.B, timeout time.Duration, cond func() bool, logs *bytes.Buffer) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("condition not met after %s\n%s", timeout, tail(logs.String(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
