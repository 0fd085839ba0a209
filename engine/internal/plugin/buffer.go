package plugin

import "sync"

// boundedBuffer keeps the first limit bytes written and counts the rest. It
// captures a guest's stdout or stderr.
type boundedBuffer struct {
	mu      sync.Mutex
	buf     []byte
	limit   int
	dropped int
}

func newBoundedBuffer(limit int) *boundedBuffer { return &boundedBuffer{limit: limit} }

// Write never fails, so the guest never sees an I/O error.
func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - len(b.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		b.buf = append(b.buf, p[:room]...)
	}
	b.dropped += len(p) - max(room, 0)
	return len(p), nil
}

// take returns the captured text and the number of bytes dropped, and resets.
func (b *boundedBuffer) take() (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, d := string(b.buf), b.dropped
	b.buf, b.dropped = b.buf[:0], 0
	return s, d
}
