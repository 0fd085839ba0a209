package engine

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
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
