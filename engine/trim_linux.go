package engine

import (
	"golang.org/x/sys/unix"
)

// pageOutBinary advises the kernel to reclaim the resident pages of the
// binary's read-only and executable mappings (Linux 5.4 and later; an
// older kernel refuses the advice and nothing changes).
func pageOutBinary() (int, error) {
	maps, err := binaryMappings()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range maps {
		// The addresses come from /proc/self/maps, not from Go pointers,
		// so they go to the system call as they are.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m[0], m[1]-m[0], unix.MADV_PAGEOUT); errno != 0 {
			return n, errno
		}
		n += int(m[1] - m[0])
	}
	return n, nil
}
