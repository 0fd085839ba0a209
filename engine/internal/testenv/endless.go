package testenv

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// EndlessPack starts a remote that advertises the references of s's
// repositories truthfully but answers every fetch with a pack that never
// ends: one blob of a terabyte, sent in 32 KiB blocks, one block per
// interval (0: as fast as the client reads). It stops when the test ends.
func (s *GitServer) EndlessPack(t testing.TB, interval time.Duration) *httptest.Server {
	t.Helper()
	real := s.srv.Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			real.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		streamEndlessPack(w, r, interval)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// streamEndlessPack writes an empty shallow update, a NAK and then, on
// side band 1, a pack header and a blob whose zlib stream never ends.
func streamEndlessPack(w http.ResponseWriter, r *http.Request, interval time.Duration) {
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	band := func(p []byte) error {
		for len(p) > 0 {
			n := min(len(p), 65515)
			if _, err := fmt.Fprintf(w, "%04x\x01", n+5); err != nil {
				return err
			}
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		flush()
		return nil
	}
	if strings.Contains(readAll(r), "deepen") {
		fmt.Fprint(w, "0000")
	}
	fmt.Fprint(w, "0008NAK\n")
	var head bytes.Buffer
	head.WriteString("PACK")
	_ = binary.Write(&head, binary.BigEndian, [2]uint32{2, 1})
	// A blob (type 3) of 2^40 bytes: the size in 4 + 7*n bits.
	size := uint64(1) << 40
	head.WriteByte(0x80 | 3<<4 | byte(size&0x0f))
	for size >>= 4; size > 0; size >>= 7 {
		b := byte(size & 0x7f)
		if size>>7 > 0 {
			b |= 0x80
		}
		head.WriteByte(b)
	}
	var body bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&body, zlib.NoCompression)
	block := make([]byte, 32<<10)
	if band(head.Bytes()) != nil {
		return
	}
	for r.Context().Err() == nil {
		_, _ = zw.Write(block)
		_ = zw.Flush()
		if band(body.Bytes()) != nil {
			return
		}
		body.Reset()
		if interval > 0 {
			select {
			case <-time.After(interval):
			case <-r.Context().Done():
			}
		}
	}
}

func readAll(r *http.Request) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}
