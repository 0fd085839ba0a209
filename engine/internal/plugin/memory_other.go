//go:build !linux

package plugin

import "errors"

// reserve is not implemented here: linear memories are Go buffers.
func reserve(uint64) ([]byte, error) { return nil, errors.ErrUnsupported }

func unreserve([]byte) error { return nil }
