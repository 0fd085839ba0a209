package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Storage keeps artifacts under a root directory, laid out as
// <kind>/<namespace>/<name>/<digest>.tar.gz, and serves them over HTTP.
type Storage struct {
	// Root is the directory artifacts are stored in.
	Root string
	// BaseURL is prepended to artifact paths, e.g. http://host:9090.
	BaseURL string
}

// NewStorage returns a Storage under root, creating it, whose artifacts
// are advertised under baseURL (an http or https URL).
func NewStorage(root, baseURL string) (*Storage, error) {
	if root == "" {
		return nil, errors.New("artifact storage: no root directory")
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("artifact storage: base url %q is not an http(s) url", baseURL)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the artifact storage: %w", err)
	}
	return &Storage{Root: root, BaseURL: baseURL}, nil
}

// Archive packs dir into a deterministic tarball: entries sorted, times
// zeroed, owners cleared, modes normalized, only regular files and
// directories. The same tree always gives the same digest.
func (s *Storage) Archive(_ context.Context, kind, namespace, name, dir, ignore, revision string) (*meta.Artifact, error) {
	m, err := matcher(dir, ignore)
	if err != nil {
		return nil, err
	}
	objDir := filepath.Join(s.Root, strings.ToLower(kind), namespace, name)
	if err := os.MkdirAll(objDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the artifact directory: %w", err)
	}
	tmp, err := os.CreateTemp(objDir, ".tmp-*.tar.gz")
	if err != nil {
		return nil, fmt.Errorf("creating the artifact file: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	size, err := writeTarball(io.MultiWriter(tmp, h), dir, m)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("archiving: %w", err)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	rel := filepath.ToSlash(filepath.Join(strings.ToLower(kind), namespace, name, digest+".tar.gz"))
	if err := os.Rename(tmp.Name(), filepath.Join(s.Root, rel)); err != nil {
		return nil, fmt.Errorf("storing the artifact: %w", err)
	}
	now := metav1.Now()
	_ = os.Chtimes(filepath.Join(s.Root, rel), now.Time, now.Time)
	return &meta.Artifact{
		Path: rel, URL: strings.TrimSuffix(s.BaseURL, "/") + "/" + rel,
		Revision: revision, Digest: "sha256:" + digest, Size: &size, LastUpdateTime: now,
	}, nil
}

// Has reports whether the artifact's file exists.
func (s *Storage) Has(a *meta.Artifact) bool {
	if a == nil || a.Path == "" {
		return false
	}
	_, err := os.Stat(s.path(a.Path))
	return err == nil
}

// path maps an artifact path (slash separated, relative to Root) to a file
// below Root; no path leads out of it.
func (s *Storage) path(rel string) string {
	return filepath.Join(s.Root, filepath.FromSlash(path.Clean("/"+rel)))
}

// GC keeps the keep newest artifacts of the object and deletes the rest.
func (s *Storage) GC(kind, namespace, name string, keep int) error {
	dir := filepath.Join(s.Root, strings.ToLower(kind), namespace, name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("listing artifacts: %w", err)
	}
	type file struct {
		path string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tar.gz") || strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, file{filepath.Join(dir, e.Name()), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	for i := keep; i < len(files); i++ {
		if err := os.Remove(files[i].path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("removing an old artifact: %w", err)
		}
	}
	return nil
}

// Holds reports whether the storage has a directory for the object.
func (s *Storage) Holds(kind, namespace, name string) bool {
	_, err := os.Stat(filepath.Join(s.Root, strings.ToLower(kind), namespace, name))
	return err == nil
}

// Serves reports whether a's URL is one of this storage's.
func (s *Storage) Serves(a *meta.Artifact) bool {
	return a != nil && strings.HasPrefix(a.URL, strings.TrimSuffix(s.BaseURL, "/")+"/")
}

// Remove deletes every artifact of the object.
func (s *Storage) Remove(kind, namespace, name string) error {
	if err := os.RemoveAll(filepath.Join(s.Root, strings.ToLower(kind), namespace, name)); err != nil {
		return fmt.Errorf("removing artifacts: %w", err)
	}
	return nil
}

// Handler serves stored artifacts read-only, without directory listings.
func (s *Storage) Handler() http.Handler {
	files := http.FileServer(http.Dir(s.Root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !strings.HasSuffix(r.URL.Path, ".tar.gz") || strings.Contains(r.URL.Path, "/.tmp-") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
