//go:build linux

package plugin

import (
	"errors"
	"fmt"
	"syscall"
)

// reserve maps size bytes of private anonymous memory, readable and
// writable, without reserving swap: the kernel backs a page only when it is
// first touched, so a reservation of the whole memory limit costs address
// space, not RSS.
func reserve(size uint64) ([]byte, error) {
	if size == 0 || size > 1<<32 {
		return nil, fmt.Errorf("reserve %d bytes: %w", size, errors.ErrUnsupported)
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("reserve %d bytes: %w", size, err)
	}
	return b, nil
}

// unreserve returns a reservation to the kernel.
func unreserve(b []byte) error {
	if err := syscall.Munmap(b); err != nil {
		return fmt.Errorf("release %d bytes: %w", len(b), err)
	}
	return nil
}
