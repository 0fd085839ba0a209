package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replica is the engine binary running as its own process against the test
// control plane, as one replica of a Deployment would: it can be stopped
// with SIGTERM, killed with SIGKILL, and observed through its /metrics and
// its JSON log.
type replica struct {
	name    string
	cmd     *exec.Cmd
	log     *syncBuffer
	metrics string // host:port of /metrics
	health  string
	storage string
	done    chan struct{}
	err     error // the exit status, once done is closed
}

// startReplica starts bin run with the addresses, storage and cache of a
// replica of its own, and args after them. The process is killed when the
// test ends if it is still running.
func startReplica(t testing.TB, bin, name string, args ...string) *replica {
	t.Helper()
	r := &replica{name: name, log: &syncBuffer{}, metrics: freeAddr(t), health: freeAddr(t),
		storage: freeAddr(t), done: make(chan struct{})}
	base := []string{"run", "--kubeconfig", env.KubeconfigFile(t),
		"--health-addr", r.health, "--metrics-addr", r.metrics, "--storage-path", t.TempDir(),
		"--storage-addr", r.storage, "--receiver-addr", freeAddr(t), "--plugin-cache-dir", t.TempDir(),
		"--log-format", "json"}
	r.cmd = exec.Command(bin, append(base, args...)...)
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting replica %s: %v", name, err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s log (tail):\n%s", name, tail(r.log.String(), 4000))
		}
	})
	return r
}

// signal sends sig to the process.
func (r *replica) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling replica %s: %v", r.name, err)
	}
}

// exited reports whether the process has ended.
func (r *replica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to end and returns its status.
func (r *replica) waitExit(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("replica %s still running %s after it was told to stop", r.name, d)
		return nil
	}
}

// metric is the sum of the samples of the metric name whose labels contain
// every one of match (e.g. `controller="kustomization"`); absent is 0.
func (r *replica) metric(name string, match ...string) (float64, error) {
	resp, err := http.Get("http://" + r.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			ok = ok && strings.Contains(line, m)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %q: %w", line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// series returns every sample of the metric name, by its label set.
func (r *replica) series(name string) (map[string]float64, error) {
	return metricSeries(r.metrics, name)
}

// metricSeries returns every sample of the metric name on a metrics
// address, by its label set.
func metricSeries(addr, name string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[line[len(name):sp]] = v
	}
	return out, sc.Err()
}

// reconciles is how many Kustomization reconciles the replica has run.
func (r *replica) reconciles() (float64, error) {
	return r.metric("controller_runtime_reconcile_total", `controller="kustomization"`)
}

// leading reports whether the replica holds its Lease, by its own account.
func (r *replica) leading() (bool, error) {
	v, err := r.metric("leader_election_master_status")
	return v == 1, err
}

// logTimes returns the times of the replica's log lines with message msg
// whose key/values include every one of kv (as "key", "value" pairs).
func (r *replica) logTimes(msg string, kv ...string) []time.Time {
	var out []time.Time
	for _, line := range strings.Split(r.log.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && fmt.Sprint(rec[kv[i]]) == kv[i+1]
		}
		if !ok {
			continue
		}
		switch ts := rec["ts"].(type) {
		case float64: // zap's production encoder: seconds since the epoch
			out = append(out, time.Unix(0, int64(ts*float64(time.Second))))
		case string:
			if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
				out = append(out, at)
			}
		}
	}
	return out
}
