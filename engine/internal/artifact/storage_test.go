package artifact

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func TestIgnoreRulesAndDeterminism(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	write := func(p, c string) {
		g.Expect(os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644)).To(Succeed())
	}
	write("apps/a.yaml", "a")
	write("apps/b.md", "b")
	write("apps/.sourceignore", "*.md\n")
	write("infra/x.yaml", "x")
	write("img.png", "p")
	g.Expect(os.Symlink("/etc/passwd", filepath.Join(dir, "apps", "link.yaml"))).To(Succeed())
	st := &Storage{Root: t.TempDir(), BaseURL: "http://h"}
	tests := []struct {
		ignore string
		want   []string
	}{
		// A .sourceignore file replaces the default exclusions (*.png), as
		// in source-controller.
		{"", []string{"apps/", "apps/.sourceignore", "apps/a.yaml", "img.png", "infra/", "infra/x.yaml"}},
		{"/*\n!/infra\n", []string{"infra/", "infra/x.yaml"}},
		{"infra/\n", []string{"apps/", "apps/.sourceignore", "apps/a.yaml", "img.png"}},
	}
	for i, tt := range tests {
		a, err := st.Archive(context.Background(), "GitRepository", "ns", fmt.Sprintf("o%d", i), dir, tt.ignore, "rev")
		g.Expect(err).NotTo(HaveOccurred())
		body, err := os.ReadFile(filepath.Join(st.Root, a.Path))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(testenv.TarNames(t, body)).To(Equal(tt.want), "ignore %q", tt.ignore)
	}

	// Same tree, new modification times: same digest.
	a1, err := st.Archive(context.Background(), "GitRepository", "ns", "d", dir, "", "rev")
	g.Expect(err).NotTo(HaveOccurred())
	later := time.Now().Add(time.Hour)
	g.Expect(os.Chtimes(filepath.Join(dir, "apps/a.yaml"), later, later)).To(Succeed())
	a2, err := st.Archive(context.Background(), "GitRepository", "ns", "d", dir, "", "rev")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a2.Digest).To(Equal(a1.Digest))
}

// A .sourceignore that is a link is not read: it could point anywhere.
func TestSourceIgnoreLinkNotFollowed(t *testing.T) {
	g := NewWithT(t)
	dir, outside := t.TempDir(), t.TempDir()
	g.Expect(os.WriteFile(filepath.Join(outside, "rules"), []byte("*.yaml\n"), 0o644)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a"), 0o644)).To(Succeed())
	g.Expect(os.Symlink(filepath.Join(outside, "rules"), filepath.Join(dir, ".sourceignore"))).To(Succeed())
	st := &Storage{Root: t.TempDir(), BaseURL: "http://h"}
	a, err := st.Archive(context.Background(), "GitRepository", "ns", "o", dir, "", "rev")
	g.Expect(err).NotTo(HaveOccurred())
	body, err := os.ReadFile(filepath.Join(st.Root, a.Path))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(testenv.TarNames(t, body)).To(Equal([]string{"a.yaml"}))
}
