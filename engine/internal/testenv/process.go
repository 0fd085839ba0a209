package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Process is a controller binary started by a benchmark or a harness, with
// the addresses it serves its health and Prometheus metrics on.
type Process struct {
	Name        string
	Cmd         *exec.Cmd
	HealthAddr  string
	MetricsAddr string

	done chan struct{}
	err  error
}

// Start starts Cmd and reaps it when it exits.
func (p *Process) Start() error {
	if err := p.Cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return nil
}

// Exited is closed when the process has exited; Err then says how.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the process's exit error, once Exited is closed.
func (p *Process) Err() error { return p.err }

// Usage is what a process used so far, read from /proc.
type Usage struct {
	PeakRSSMiB float64
	CPUSeconds float64
}

// Usage reads the process's peak RSS and CPU time.
func (p *Process) Usage() (Usage, error) { return ProcessUsage(p.Cmd.Process.Pid) }

// ClientRequests sums the process's rest_client_requests_total: every
// request its Kubernetes clients sent to the API server so far.
func (p *Process) ClientRequests() (float64, error) {
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("scraping %s metrics: %w", p.Name, err)
	}
	defer resp.Body.Close()
	return sumCounter(resp.Body, "rest_client_requests_total")
}

// WaitReady polls /readyz until it answers 200 or ctx is done.
func (p *Process) WaitReady(ctx context.Context) error {
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v", p.Name, p.err)
		default:
		}
		resp, err := http.Get("http://" + p.HealthAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be ready: %w", p.Name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the process and waits until it is reaped.
func (p *Process) Stop() {
	if p.done == nil {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// sumCounter adds up every sample of one metric in Prometheus' text format.
func sumCounter(r io.Reader, name string) (float64, error) {
	var sum float64
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parsing %q: %w", line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading metrics: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, nil
}

// ProcessUsage reads a process's peak RSS and CPU time from /proc.
func ProcessUsage(pid int) (Usage, error) {
	var u Usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("reading process status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			u.PeakRSSMiB = kb / 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("reading process stat: %w", err)
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	u.CPUSeconds = (utime + stime) / 100
	return u, nil
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	// A port is free again once its listener closes, so the kernel may hand
	// the same one out twice in a row (a replica once got it for both its
	// health and its metrics server). Never return an address twice.
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("finding a free port: %w", err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		if !handed[addr] {
			handed[addr] = true
			return addr, nil
		}
	}
	return "", fmt.Errorf("finding a free port: every one offered was handed out before")
}

var (
	handedMu sync.Mutex
	handed   = map[string]bool{}
)

// LoopbackAddr is FreeAddr for a test, which it fails on error.
func LoopbackAddr(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
