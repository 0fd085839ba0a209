package build

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Limits on what an artifact may unpack to.
const (
	maxArtifactBytes = 100 << 20
	maxUnpackedBytes = 500 << 20
	maxEntries       = 100_000
)

// Fetch downloads a source artifact from url, checks its sha256 digest
// (status.artifact.digest, "sha256:<hex>") and unpacks it into an in-memory
// file system under SrcRoot, ready for Build.
func Fetch(ctx context.Context, hc *http.Client, url, digest string) (filesys.FileSystem, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid artifact url: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to download artifact: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("failed to download artifact from %s: %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxArtifactBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to download artifact: %w", err)
	}
	if len(data) > maxArtifactBytes {
		return nil, fmt.Errorf("artifact is larger than %d bytes", maxArtifactBytes)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(data)); digest != "" && got != digest {
		return nil, fmt.Errorf("failed to verify artifact: computed digest doesn't match '%s'", digest)
	}
	return untar(strings.NewReader(string(data)))
}

// untar unpacks regular files and directories; anything else, an absolute
// path or a path that climbs out of the root fails the whole artifact.
func untar(r io.Reader) (filesys.FileSystem, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("artifact is not gzip: %w", err)
	}
	fs := filesys.MakeFsInMemory()
	if err := fs.MkdirAll(SrcRoot); err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading artifact: %w", err)
		}
		if n >= maxEntries {
			return nil, fmt.Errorf("artifact has more than %d entries", maxEntries)
		}
		name := path.Join(SrcRoot, path.Clean("/"+h.Name))
		if strings.HasPrefix(h.Name, "/") || strings.Contains("/"+h.Name+"/", "/../") {
			return nil, fmt.Errorf("artifact entry %q escapes the root", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := fs.MkdirAll(name); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxUnpackedBytes {
				return nil, fmt.Errorf("artifact unpacks to more than %d bytes", maxUnpackedBytes)
			}
			b, err := io.ReadAll(io.LimitReader(tr, h.Size))
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", h.Name, err)
			}
			if err := fs.MkdirAll(path.Dir(name)); err != nil {
				return nil, err
			}
			if err := fs.WriteFile(name, b); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("artifact entry %q is not a regular file or directory", h.Name)
		}
	}
}
