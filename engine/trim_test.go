package engine

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPageOutBinary: the advice reaches the binary's mappings, and the
// process's file-backed resident memory drops.
func TestPageOutBinary(t *testing.T) {
	maps, err := binaryMappings()
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) == 0 {
		t.Fatal("no mapping of the binary found")
	}
	before := rssFileKiB(t)
	n, err := pageOutBinary()
	if errors.Is(err, syscall.EINVAL) {
		t.Skip("the kernel does not know MADV_PAGEOUT")
	}
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("nothing advised")
	}
	if after := rssFileKiB(t); after >= before {
		t.Fatalf("file-backed RSS %d KiB before, %d KiB after", before, after)
	}
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestTrimState: a trim every interval, and one after a burst of work
// once it has been quiet for a while; none while the work goes on, and
// none for quiet alone.
func TestTrimState(t *testing.T) {
	const interval, quiet = 5 * time.Minute, 30 * time.Second
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var s trimState
	s.reset(t0, 0)
	for _, step := range []struct {
		after time.Duration
		count uint64
		want  bool
		why   string
	}{
		{30 * time.Second, 0, false, "quiet without work since the last trim"},
		{60 * time.Second, 40, false, "work going on"},
		{90 * time.Second, 90, false, "still going on"},
		{110 * time.Second, 90, false, "quiet for only 20 s"},
		{120 * time.Second, 90, true, "quiet for 30 s after a burst"},
	} {
		if got := s.due(at(step.after), step.count, interval, quiet); got != step.want {
			t.Fatalf("at %s with %d requests: due %v, want %v (%s)", step.after, step.count, got, step.want, step.why)
		}
	}
	s.reset(at(120*time.Second), 90)
	if s.due(at(150*time.Second), 90, interval, quiet) {
		t.Fatal("a trim right after one, with no work in between")
	}
	for d := 150 * time.Second; d < 120*time.Second+interval; d += 10 * time.Second {
		if s.due(at(d), 90+uint64(d/time.Second), interval, quiet) {
			t.Fatalf("due at %s while busy, before the interval", d)
		}
	}
	if !s.due(at(120*time.Second+interval), 1000, interval, quiet) {
		t.Fatal("not due a full interval after the last trim, busy or not")
	}
}
