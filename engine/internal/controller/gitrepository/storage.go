package gitrepository

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// vcsIgnore are always excluded.
const vcsIgnore = `.git/
.gitignore
.gitmodules
.gitattributes
`

// defaultIgnore are the exclusions applied when neither spec.ignore nor a .sourceignore file gives any rule, as
// source-controller applies them: VCS metadata, CI configuration and common
// binary files that never belong in a deployment artifact.
const defaultIgnore = vcsIgnore + `# Common binaries
*.jpg
*.jpeg
*.gif
*.png
*.wmv
*.flv
*.tar.gz
*.zip
# CI
.github/
.circleci/
.travis.yml
.gitlab-ci.yml
appveyor.yml
.drone.yml
cloudbuild.yaml
codeship-services.yml
codeship-steps.yml
**/.goreleaser.yml
**/.sops.yaml
**/.flux.yaml
`

const sourceIgnoreFile = ".sourceignore"

// DiskStorage keeps artifacts under a root directory, laid out as
// <kind>/<namespace>/<name>/<digest>.tar.gz, and serves them over HTTP.
type DiskStorage struct {
	Root string
	// BaseURL is prepended to artifact paths, e.g. http://host:9090.
	BaseURL string
}

var _ Storage = (*DiskStorage)(nil)

// Archive packs dir into a deterministic tarball: entries sorted, times
// zeroed, owners cleared, modes normalized, only regular files and
// directories. The same tree always gives the same digest.
func (s *DiskStorage) Archive(_ context.Context, kind, namespace, name, dir, ignore, revision string) (*meta.Artifact, error) {
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
func (s *DiskStorage) Has(a *meta.Artifact) bool {
	if a == nil || a.Path == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(s.Root, filepath.FromSlash(a.Path)))
	return err == nil
}

// GC keeps the keep newest artifacts of the object and deletes the rest.
func (s *DiskStorage) GC(kind, namespace, name string, keep int) error {
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

// Remove deletes every artifact of the object.
func (s *DiskStorage) Remove(kind, namespace, name string) error {
	if err := os.RemoveAll(filepath.Join(s.Root, strings.ToLower(kind), namespace, name)); err != nil {
		return fmt.Errorf("removing artifacts: %w", err)
	}
	return nil
}

// Handler serves stored artifacts read-only, without directory listings.
func (s *DiskStorage) Handler() http.Handler {
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

// matcher builds the archive's exclusions as source-controller does: the
// .sourceignore files first, then spec.ignore (so that it can overrule
// them); when there are any such rules they replace the default list and
// only the VCS entries stay excluded.
func matcher(dir, ignore string) (gitignore.Matcher, error) {
	var patterns []gitignore.Pattern
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != sourceIgnoreFile {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		var domain []string
		if rel != "." {
			domain = strings.Split(filepath.ToSlash(rel), "/")
		}
		patterns = append(patterns, parsePatterns(string(data), domain)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s files: %w", sourceIgnoreFile, err)
	}
	patterns = append(patterns, parsePatterns(ignore, nil)...)
	if len(patterns) == 0 {
		return gitignore.NewMatcher(parsePatterns(defaultIgnore, nil)), nil
	}
	return gitignore.NewMatcher(append(parsePatterns(vcsIgnore, nil), patterns...)), nil
}

func parsePatterns(text string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}

func writeTarball(w io.Writer, dir string, m gitignore.Matcher) (int64, error) {
	cw := &countingWriter{w: w}
	gz, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if m.Match(parts, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
		switch {
		case d.IsDir():
			hdr.Typeflag, hdr.Mode, hdr.Name = tar.TypeDir, 0o755, hdr.Name+"/"
			return tw.WriteHeader(hdr)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, info.Size()
			if info.Mode()&0o111 != 0 {
				hdr.Mode = 0o755
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		default:
			return nil // symlinks, devices and sockets never enter an artifact
		}
	})
	if err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := gz.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
