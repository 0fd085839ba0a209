package artifact

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
)

// ErrDigestMismatch is returned at the end of an artifact whose bytes do
// not match its digest.
var ErrDigestMismatch = errors.New("artifact digest mismatch")

// CopyToPath extracts the artifact's fromPath subtree (all of it when
// empty) into toPath below root, merging with what is there and never
// writing through a symbolic link. The artifact is read from this storage
// when it holds it, and from its URL otherwise (another replica's
// storage), so includes work across shards; its digest is checked while
// it is read. Entries other than regular files and directories are
// skipped.
func (s *Storage) CopyToPath(ctx context.Context, a *meta.Artifact, fromPath, root, toPath string) error {
	if a == nil {
		return errors.New("no artifact to copy from")
	}
	rc, err := s.openArtifact(ctx, a)
	if err != nil {
		return err
	}
	defer rc.Close()
	found, err := extract(rc, fromPath, root, toPath)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("reading the artifact: %w", err)
	}
	if !found {
		return fmt.Errorf("path '%s' does not exist in the artifact", fromPath)
	}
	return nil
}

// Open returns the tarball stored at url: from this storage's disk when
// the URL is under BaseURL and the file is here, over HTTP otherwise (an
// artifact of another replica). When digest is not empty, reading to the
// end fails with ErrDigestMismatch unless the bytes match it.
func (s *Storage) Open(ctx context.Context, url, digest string) (io.ReadCloser, error) {
	if rel, ok := strings.CutPrefix(url, strings.TrimSuffix(s.BaseURL, "/")+"/"); ok && s.BaseURL != "" {
		if rc, err := s.openLocal(rel, digest); err == nil {
			return rc, nil
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching the artifact: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the artifact: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching the artifact: %s", resp.Status)
	}
	return verified(resp.Body, digest), nil
}

// OpenLocal opens the artifact at rawURL when this storage serves it (the
// URL is under BaseURL) and holds it, for a consumer in the same process
// to skip the HTTP hop; ok is false for any other URL, which is left to
// HTTP. The file is opened through an os.Root: nothing outside Root can be
// read, links included. The caller checks the digest.
func (s *Storage) OpenLocal(rawURL string) (rc io.ReadCloser, ok bool, err error) {
	base, err := neturl.Parse(s.BaseURL)
	if err != nil || s.BaseURL == "" {
		return nil, false, nil
	}
	u, err := neturl.Parse(rawURL)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.RawQuery != "" {
		return nil, false, nil
	}
	rel, found := strings.CutPrefix(u.Path, strings.TrimSuffix(base.Path, "/")+"/")
	if !found || rel == "" {
		return nil, false, nil
	}
	f, err := s.openLocal(rel, "")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}

// openArtifact opens a by its path when this storage holds it, by its URL
// otherwise.
func (s *Storage) openArtifact(ctx context.Context, a *meta.Artifact) (io.ReadCloser, error) {
	if s.Has(a) {
		return s.openLocal(a.Path, a.Digest)
	}
	return s.Open(ctx, a.URL, a.Digest)
}

// openLocal opens rel through an os.Root, so that no name and no link
// leads out of the storage directory.
func (s *Storage) openLocal(rel, digest string) (io.ReadCloser, error) {
	root, err := os.OpenRoot(s.Root)
	if err != nil {
		return nil, fmt.Errorf("opening the artifact storage: %w", err)
	}
	defer root.Close()
	f, err := root.Open(strings.TrimPrefix(path.Clean("/"+rel), "/"))
	if err != nil {
		return nil, fmt.Errorf("opening the artifact: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("opening the artifact: '%s' is not a regular file", rel)
	}
	return verified(f, digest), nil
}

// verified checks what is read from rc against digest ("sha256:<hex>")
// once rc is read to the end; an empty digest checks nothing.
func verified(rc io.ReadCloser, digest string) io.ReadCloser {
	if digest == "" {
		return rc
	}
	return &digestReader{rc: rc, h: sha256.New(), want: digest}
}

type digestReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
}

func (d *digestReader) Read(p []byte) (int, error) {
	n, err := d.rc.Read(p)
	d.h.Write(p[:n])
	if err == io.EOF {
		if got := "sha256:" + hex.EncodeToString(d.h.Sum(nil)); got != d.want {
			return n, fmt.Errorf("%w: want %s, got %s", ErrDigestMismatch, d.want, got)
		}
	}
	return n, err
}

func (d *digestReader) Close() error { return d.rc.Close() }

// extract writes the tarball's entries under fromPath to toPath below
// root and reports whether fromPath was in it at all.
func extract(r io.Reader, fromPath, root, toPath string) (bool, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return false, fmt.Errorf("reading the artifact: %w", err)
	}
	tr := tar.NewReader(zr)
	found := fromPath == ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, fmt.Errorf("reading the artifact: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return false, fmt.Errorf("artifact entry '%s' is outside the artifact", hdr.Name)
		}
		rel, ok := below(name, fromPath)
		if !ok {
			continue
		}
		found = true
		target := path.Join(toPath, rel)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := mkdirBelow(root, target); err != nil {
				return false, err
			}
		case tar.TypeReg:
			if err := mkdirBelow(root, path.Dir(target)); err != nil {
				return false, err
			}
			if err := writeBelow(root, target, tr, hdr.FileInfo().Mode()); err != nil {
				return false, err
			}
		}
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return false, fmt.Errorf("reading the artifact: %w", err)
	}
	return found, nil
}

// below returns name relative to dir when name is dir or inside it.
func below(name, dir string) (string, bool) {
	switch {
	case dir == "":
		return name, true
	case name == dir:
		return "", true
	case strings.HasPrefix(name, dir+"/"):
		return name[len(dir)+1:], true
	}
	return "", false
}

// mkdirBelow creates the directories of rel below root, refusing to pass
// through a symbolic link or a file.
func mkdirBelow(root, rel string) error {
	cur := root
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case os.IsNotExist(err):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return fmt.Errorf("creating '%s': %w", rel, err)
			}
		case err != nil:
			return fmt.Errorf("creating '%s': %w", rel, err)
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("creating '%s': refusing to write through the symbolic link '%s'", rel, part)
		case !fi.IsDir():
			return fmt.Errorf("creating '%s': '%s' is not a directory", rel, part)
		}
	}
	return nil
}

// writeBelow writes rel below root, replacing a file or link of that name.
func writeBelow(root, rel string, r io.Reader, mode os.FileMode) error {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if fi, err := os.Lstat(full); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("writing '%s': a directory is in the way", rel)
		}
		if err := os.Remove(full); err != nil {
			return fmt.Errorf("writing '%s': %w", rel, err)
		}
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("writing '%s': %w", rel, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing '%s': %w", rel, err)
	}
	return f.Close()
}
