package git

import (
	"context"
	"strings"
	"testing"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkLatestUnchanged is the check made on every interval when the
// remote has not moved: one ls-remote round trip to a local smart-HTTP
// server (git http-backend, one process per request), no clone. It reports
// the requests each check makes.
func BenchmarkLatestUnchanged(b *testing.B) {
	git := testenv.NewGitServer(b)
	repo := git.NewRepo(b, "app")
	sha := repo.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	req := Request{URL: git.URL("app"), Reference: Reference{Branch: "main"}}
	ctx := context.Background()
	before := len(git.Requests())
	b.ResetTimer()
	for b.Loop() {
		rev, err := Client{}.Latest(ctx, req)
		if err != nil || rev != "main@sha1:"+sha {
			b.Fatalf("Latest = %q, %v", rev, err)
		}
	}
	b.StopTimer()
	reqs := git.Requests()[before:]
	for _, r := range reqs {
		if r.Method != "GET" || !strings.HasSuffix(r.Path, "/info/refs") {
			b.Fatalf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	b.ReportMetric(float64(len(reqs))/float64(b.N), "requests/op")
}
