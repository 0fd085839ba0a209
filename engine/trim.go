package engine

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// trimMemory gives back, every interval, memory the engine holds but is
// not using, so that its resident set (what kubectl top and a memory
// limit see) follows what it needs rather than its busiest moment:
//
//   - debug.FreeOSMemory: a garbage collection, then the heap's free pages
//     go back to the kernel. Between collections Go keeps up to twice the
//     live heap.
//   - the pages of the engine's own binary that a burst of work (a first
//     sync of a thousand Kustomizations runs most of kustomize, go-git and
//     the apply) mapped in and no longer touches, handed back with
//     madvise(MADV_PAGEOUT). They are clean copies of the file; what is
//     still used comes back on its next touch.
//
// It trims every interval, and also once a burst of work is over: when
// the engine sent API requests and then none for a quiet spell (a
// quarter of the interval, at most 30 s), so that the start-up or a wave
// of periodic reconciles is handed back at once, not minutes later.
// activity counts the engine's API requests. It stops with ctx.
func trimMemory(ctx context.Context, interval time.Duration, activity func() uint64, log logr.Logger) {
	if interval <= 0 {
		return
	}
	quiet := min(interval/4, 30*time.Second)
	t := time.NewTicker(quiet)
	defer t.Stop()
	var s trimState
	s.reset(time.Now(), activity())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if !s.due(now, activity(), interval, quiet) {
			continue
		}
		s.reset(now, activity())
		debug.FreeOSMemory()
		n, err := pageOutBinary()
		if err != nil {
			log.V(1).Info("handing back the binary's pages", "error", err.Error())
		}
		log.V(1).Info("memory trimmed", "binaryBytesAdvised", n)
	}
}

// trimState decides when trimMemory trims.
type trimState struct {
	last    time.Time // the last trim
	seen    uint64    // the activity count at the last look
	changed time.Time // when it last changed
	busy    bool      // it changed since the last trim
}

func (s *trimState) reset(now time.Time, n uint64) {
	s.last, s.seen, s.changed, s.busy = now, n, now, false
}

// due reports whether to trim now, given the activity count n: a full
// interval since the last trim, or work since then followed by quiet.
func (s *trimState) due(now time.Time, n uint64, interval, quiet time.Duration) bool {
	if n != s.seen {
		s.seen, s.changed, s.busy = n, now, true
	}
	return now.Sub(s.last) >= interval || s.busy && now.Sub(s.changed) >= quiet
}

// binaryMappings lists the read-only and executable mappings of the
// running binary from /proc/self/maps.
func binaryMappings() ([][2]uintptr, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return out, sc.Err()
}
