package artifact

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
)

// archive stores a one-file tree and returns the storage, its server and
// the artifact's URL and digest.
func archive(t *testing.T) (*Storage, string, string) {
	t.Helper()
	g := NewWithT(t)
	dir := t.TempDir()
	g.Expect(os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 1\n"), 0o644)).To(Succeed())
	st := &Storage{Root: t.TempDir()}
	srv := httptest.NewServer(st.Handler())
	t.Cleanup(srv.Close)
	st.BaseURL = srv.URL
	a, err := st.Archive(context.Background(), "GitRepository", "ns", "app", dir, "", "main@sha1:0")
	g.Expect(err).NotTo(HaveOccurred())
	return st, a.URL, a.Digest
}

func TestOpen(t *testing.T) {
	st, url, digest := archive(t)
	want, err := os.ReadFile(filepath.Join(st.Root, url[len(st.BaseURL)+1:]))
	if err != nil {
		t.Fatal(err)
	}
	// Another replica's storage has no such file and reads over HTTP.
	other := &Storage{Root: t.TempDir(), BaseURL: "http://other.invalid"}
	tests := []struct {
		name    string
		st      *Storage
		digest  string
		wantErr error
	}{
		{"local", st, digest, nil},
		{"remote", other, digest, nil},
		{"no-digest", st, "", nil},
		{"local-wrong-digest", st, "sha256:00", ErrDigestMismatch},
		{"remote-wrong-digest", other, "sha256:00", ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			rc, err := tt.st.Open(context.Background(), url, tt.digest)
			g.Expect(err).NotTo(HaveOccurred())
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if tt.wantErr != nil {
				g.Expect(errors.Is(err, tt.wantErr)).To(BeTrue(), "err = %v", err)
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(want))
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := st.Open(context.Background(), st.BaseURL+"/gitrepository/ns/app/absent.tar.gz", "")
		NewWithT(t).Expect(err).To(MatchError(ContainSubstring("404 Not Found")))
	})
}

func TestNewStorage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "artifacts")
	tests := []struct {
		root, url string
		ok        bool
	}{
		{root, "http://127.0.0.1:9090", true},
		{"", "http://127.0.0.1:9090", false},
		{root, "127.0.0.1:9090", false},
		{root, "ftp://h", false},
	}
	for _, tt := range tests {
		_, err := NewStorage(tt.root, tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("NewStorage(%q, %q) = %v, want ok=%v", tt.root, tt.url, err, tt.ok)
		}
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Errorf("root not created: %v", err)
	}
}

// A link planted in the storage directory is not followed out of it.
func TestOpenRefusesLinksOutOfStorage(t *testing.T) {
	g := NewWithT(t)
	st, _, _ := archive(t)
	outside := filepath.Join(t.TempDir(), "secret.tar.gz")
	g.Expect(os.WriteFile(outside, []byte("secret"), 0o644)).To(Succeed())
	g.Expect(os.Symlink(outside, filepath.Join(st.Root, "gitrepository", "ns", "app", "link.tar.gz"))).To(Succeed())
	_, err := st.openLocal("gitrepository/ns/app/link.tar.gz", "")
	g.Expect(err).To(HaveOccurred())
	_, err = st.openLocal("../../../etc/passwd", "")
	g.Expect(err).To(HaveOccurred())
}
