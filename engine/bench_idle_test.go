package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkIdleSources is the engine's cost at rest: N GitRepositories
// (WEIR_IDLE_SOURCES, default 100) at a 1 m interval, all Ready, remote
// unchanged, watched for WEIR_IDLE_WINDOW (default 2m). It reports the
// engine process's CPU per minute of the window, its resident memory at the
// end and at its peak, and the requests the git server saw per minute
// (each should be one ls-remote; fetches must be zero).
func BenchmarkIdleSources(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("WEIR_IDLE_SOURCES")); err == nil && v > 0 {
		n = v
	}
	window := 2 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("WEIR_IDLE_WINDOW")); err == nil && v > 0 {
		window = v
	}
	b.Run(fmt.Sprintf("sources=%d", n), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runIdle(b, n, window)
		}
	})
}

func runIdle(b *testing.B, n int, window time.Duration) {
	b.StopTimer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.Namespace(b)
	git := testenv.NewGitServer(b)
	git.NewRepo(b, "apps").Commit("apps", map[string]string{"app/all.yaml": b1App})
	bin := buildEngine(b)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "run", "--kubeconfig", env.KubeconfigFile(b),
		"--health-addr", freeAddr(b), "--metrics-addr", freeAddr(b), "--storage-path", b.TempDir(),
		"--storage-addr", freeAddr(b), "--receiver-addr", freeAddr(b), "--plugin-cache-dir", b.TempDir(),
		"--watch-namespace", ns, "--log-level", "error", "--concurrent", concurrent())
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for i := 0; i < n; i++ {
		if err := env.Client.Create(ctx, testenv.GitRepository(ns, fmt.Sprintf("src-%04d", i), git.URL("apps"))); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for ready := 0; ready < n; {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d sources ready after 5 minutes\n%s", ready, n, tail(stderr.String(), 2000))
		}
		time.Sleep(time.Second)
		var list sourcev1.GitRepositoryList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready = 0
		for i := range list.Items {
			if conditions.IsReady(&list.Items[i]) {
				ready++
			}
		}
	}
	_, cpu0, err := procUsage(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	served := len(git.Requests())
	b.StartTimer()
	time.Sleep(window)
	b.StopTimer()
	peak, cpu1, err := procUsage(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	var lsRemote, fetches int
	for _, r := range git.Requests()[served:] {
		switch {
		case r.Method == "GET" && strings.HasSuffix(r.Path, "/info/refs"):
			lsRemote++
		case r.Method == "POST":
			fetches++
		}
	}
	minutes := window.Minutes()
	b.ReportMetric((cpu1-cpu0)/minutes, "s-cpu/min")
	b.ReportMetric(currentRSS(b, cmd.Process.Pid), "MiB-rss")
	b.ReportMetric(peak, "MiB-peak-rss")
	b.ReportMetric(float64(lsRemote)/minutes, "ls-remote/min")
	b.ReportMetric(float64(fetches), "fetches")
}

// currentRSS reads a process's resident memory (MiB) from /proc.
func currentRSS(b *testing.B, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
