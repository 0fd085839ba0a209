package artifact

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestOpenLocal(t *testing.T) {
	g := NewWithT(t)
	src := t.TempDir()
	g.Expect(os.WriteFile(filepath.Join(src, "a.yaml"), []byte("kind: ConfigMap\n"), 0o644)).To(Succeed())
	storage := &Storage{Root: t.TempDir(), BaseURL: "http://127.0.0.1:9090"}
	a, err := storage.Archive(context.Background(), "GitRepository", "ns", "repo", src, "", "main@sha1:"+strings.Repeat("1", 40))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(os.Symlink("/etc/passwd", filepath.Join(storage.Root, "passwd"))).To(Succeed())
	open := storage.OpenLocal

	rc, ok, err := open(a.URL)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue(), "the engine's own artifact is read in process")
	b, err := io.ReadAll(rc)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rc.Close()).To(Succeed())
	g.Expect(fmt.Sprintf("sha256:%x", sha256.Sum256(b))).To(Equal(a.Digest))

	tests := []struct {
		name, url string
		err       string // empty: not local, left to HTTP
	}{
		{"another host", strings.Replace(a.URL, "127.0.0.1:9090", "source-controller.flux-system.svc", 1), ""},
		{"another port", strings.Replace(a.URL, ":9090", ":9091", 1), ""},
		{"https", strings.Replace(a.URL, "http://", "https://", 1), ""},
		{"not stored here", storage.BaseURL + "/gitrepository/ns/repo/absent.tar.gz", ""},
		{"the root itself", storage.BaseURL + "/", ""},
		{"climbing out", storage.BaseURL + "/gitrepository/../../etc/passwd", ""},
		{"a link out", storage.BaseURL + "/passwd", "escapes"},
		{"a directory", storage.BaseURL + "/gitrepository", "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			rc, ok, err := open(tt.url)
			g.Expect(ok).To(BeFalse())
			g.Expect(rc).To(BeNil())
			if tt.err == "" {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(MatchError(ContainSubstring(tt.err)))
			}
		})
	}
}
