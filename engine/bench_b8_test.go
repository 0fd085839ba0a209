package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB8 is the idle cost of a large, settled installation: N apps
// (B1's four objects each, wait: true), every GitRepository and
// Kustomization at a 10 minute interval, all Ready; then the engine is left
// alone for an idle window and measured over it: resident memory at the
// end and at most, CPU in millicores on average, API requests per second,
// and goroutines at the start and the end of the window. WEIR_B8_APPS sets
// N (default 1000), WEIR_B8_IDLE the window (default 10m), WEIR_B8_INTERVAL
// the interval, WEIR_B8_HEAP a file for the engine's heap profile at the
// end. The requests of the window are logged by verb and resource.
func BenchmarkB8(b *testing.B) {
	apps := 1000
	if v, err := strconv.Atoi(os.Getenv("WEIR_B8_APPS")); err == nil && v > 0 {
		apps = v
	}
	idle := 10 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("WEIR_B8_IDLE")); err == nil && v > 0 {
		idle = v
	}
	b.Run(fmt.Sprintf("apps=%d/idle=%s", apps, idle), func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			runB8(b, apps, idle)
		}
	})
}

func runB8(b *testing.B, apps int, idle time.Duration) {
	b.StopTimer()
	ctx := context.Background()
	ns := env.Namespace(b)
	git := testenv.NewGitServer(b)
	repo := git.NewRepo(b, "apps")
	repo.Commit("apps", map[string]string{"app/all.yaml": b1App})
	env.Manager(b, func(_ context.Context, mgr ctrl.Manager) error {
		return testenv.ReadyDeployments(mgr, 500*time.Millisecond)
	})
	e := startReplica(b, buildEngine(b), "engine", "--watch-namespace", ns, "--log-level", "error", "--concurrent", concurrent())
	every := metav1.Duration{Duration: 10 * time.Minute}
	if v, err := time.ParseDuration(os.Getenv("WEIR_B8_INTERVAL")); err == nil && v > 0 {
		every.Duration = v // to look at periodic reconciles in a short window
	}
	for i := 0; i < apps; i++ {
		name := fmt.Sprintf("app-%04d", i)
		gr := testenv.GitRepository(ns, name, git.URL("apps"), func(g *sourcev1.GitRepository) { g.Spec.Interval = every })
		ks := testenv.Kustomization(ns, name, name, "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.Interval = every
			k.Spec.TargetNamespace = ns
			k.Spec.NamePrefix = name + "-"
			k.Spec.Wait = true
			k.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Minute}
		})
		for _, o := range []client.Object{gr, ks} {
			if err := env.Client.Create(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	for deadline := time.Now().Add(20 * time.Minute); ; time.Sleep(5 * time.Second) {
		var list kustomizev1.KustomizationList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ready := 0
		for i := range list.Items {
			if conditions.IsReady(&list.Items[i]) {
				ready++
			}
		}
		if ready == apps {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d apps ready after 20 minutes\n%s", ready, apps, tail(e.log.String(), 2000))
		}
	}

	pid := e.cmd.Process.Pid
	// The last apps turn Ready while the engine still sends the events of
	// the start (client-go's recorder writes them one at a time): the
	// window opens once no request has been sent for 15 s (at most 3
	// minutes later), so that it holds the steady state. The periodic
	// reconciles, 10 minutes after each app's first, stay inside it.
	settled := time.Now()
	for last, quiet := b8Sample(b, e, pid), time.Now(); time.Since(quiet) < 15*time.Second && time.Since(settled) < 3*time.Minute; {
		time.Sleep(time.Second)
		if s := b8Sample(b, e, pid); s.requests != last.requests {
			last, quiet = s, time.Now()
		}
	}
	b.Logf("requests settled %s after all apps were seen Ready", time.Since(settled).Round(time.Second))
	start := b8Sample(b, e, pid)
	b.StartTimer()
	maxRSS, maxAt := start.rss, start.at
	for end := time.Now().Add(idle); time.Now().Before(end); time.Sleep(min(10*time.Second, time.Until(end))) {
		if s := b8Sample(b, e, pid); s.rss > maxRSS {
			maxRSS, maxAt = s.rss, s.at
		}
	}
	b.StopTimer()
	end := b8Sample(b, e, pid)
	if p := os.Getenv("WEIR_B8_HEAP"); p != "" {
		// The engine's live heap at the end, for go tool pprof.
		if err := saveURL("http://"+e.metrics+"/debug/pprof/heap?gc=1", p); err != nil {
			b.Error(err)
		}
	}
	secs := end.at.Sub(start.at).Seconds()
	b.ReportMetric(end.rss, "MiB-rss-end")
	// Most of the rest is the binary's own text, mapped from the file.
	b.ReportMetric(end.anon, "MiB-rss-anon-end")
	b.ReportMetric(start.rss, "MiB-rss-start")
	b.ReportMetric(max(maxRSS, end.rss), "MiB-rss-max")
	b.Logf("highest RSS %.1f MiB, %s into the window", maxRSS, maxAt.Sub(start.at).Round(time.Second))
	b.ReportMetric(end.hwm, "MiB-peak-rss")
	b.ReportMetric((end.cpu-start.cpu)/secs*1000, "millicores")
	b.ReportMetric((end.requests-start.requests)/secs, "api-req/s")
	for _, m := range []string{"GET", "PATCH", "POST", "PUT"} {
		b.ReportMetric((end.byMethod[m]-start.byMethod[m])/secs, m+"-req/s")
	}
	for _, l := range requestDelta(start.byResource, end.byResource) {
		b.Logf("%8.0f %s", l.n, l.what)
	}
	b.ReportMetric(start.goroutines, "goroutines-start")
	b.ReportMetric(end.goroutines, "goroutines-end")
}

// b8State is one reading of the engine process.
type b8State struct {
	at                                        time.Time
	rss, anon, hwm, cpu, requests, goroutines float64
	byMethod, byResource                      map[string]float64
}

type requestCount struct {
	what string
	n    float64
}

// requestDelta lists what end counts more than start, most first.
func requestDelta(start, end map[string]float64) []requestCount {
	var out []requestCount
	for k, v := range end {
		if d := v - start[k]; d > 0 {
			out = append(out, requestCount{k, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out
}

func b8Sample(b *testing.B, e *replica, pid int) b8State {
	s := b8State{at: time.Now()}
	var err error
	if s.hwm, s.cpu, err = procUsage(pid); err != nil {
		b.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			s.rss = kb / 1024
		case "RssAnon:":
			s.anon = kb / 1024
		}
	}
	if s.requests, err = e.metric("rest_client_requests_total"); err != nil {
		b.Fatal(err)
	}
	if s.goroutines, err = e.metric("go_goroutines"); err != nil {
		b.Fatal(err)
	}
	if s.byResource, err = e.series("weir_api_requests_total"); err != nil {
		b.Fatal(err)
	}
	s.byMethod = map[string]float64{}
	for _, m := range []string{"GET", "PATCH", "POST", "PUT"} {
		if s.byMethod[m], err = e.metric("rest_client_requests_total", `method="`+m+`"`); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func saveURL(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
