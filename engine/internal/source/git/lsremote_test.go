package git

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A remote whose reference advertisement never ends is cut off at the
// cap, long before the timeout.
func TestEndlessAdvertisement(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		fmt.Fprint(w, "001e# service=git-upload-pack\n0000")
		sha := strings.Repeat("a", 40)
		line := sha + " HEAD\x00side-band-64k\n"
		fmt.Fprintf(w, "%04x%s", len(line)+4, line)
		for i := 0; r.Context().Err() == nil; i++ {
			line := fmt.Sprintf("%s refs/heads/b%09d\n", sha, i)
			if _, err := fmt.Fprintf(w, "%04x%s", len(line)+4, line); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Client{MaxRefsSize: 1 << 20}.Latest(ctx, Request{URL: srv.URL + "/x.git", Reference: Reference{Branch: "main"}})
	if err == nil || !strings.Contains(err.Error(), "the reference advertisement is over 1048576 bytes") {
		t.Fatalf("Latest = %v, want the advertisement cut off at the cap", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the timeout, not the cap, stopped the advertisement")
	}
}
