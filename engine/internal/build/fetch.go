package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/artifact"
)

// maxArtifactBytes bounds the compressed artifact; artifact.DefaultLimits
// bound what it unpacks to.
const maxArtifactBytes = 100 << 20

// ArtifactOpener opens an artifact by its URL when this engine's own
// storage holds it, so the fetch skips the HTTP hop. It returns ok false
// for an artifact stored elsewhere (another engine, a stock Flux source),
// which is then fetched over HTTP; either way the digest is checked.
type ArtifactOpener func(url string) (rc io.ReadCloser, ok bool, err error)

// Fetch reads a source artifact from url (through open when it is local,
// which may be nil, else over HTTP with hc), checks its sha256 digest
// (status.artifact.digest, "sha256:<hex>") and unpacks it into an in-memory
// file system under SrcRoot, ready for Build.
func Fetch(ctx context.Context, hc *http.Client, open ArtifactOpener, url, digest string) (filesys.FileSystem, error) {
	data, err := readArtifact(ctx, hc, open, url)
	if err != nil {
		return nil, err
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(data)); digest != "" && got != digest {
		return nil, fmt.Errorf("failed to verify artifact: computed digest doesn't match '%s'", digest)
	}
	fs := filesys.MakeFsInMemory()
	if err := artifact.Untar(bytes.NewReader(data), fs, SrcRoot, artifact.DefaultLimits); err != nil {
		return nil, err
	}
	return fs, nil
}

func readArtifact(ctx context.Context, hc *http.Client, open ArtifactOpener, url string) ([]byte, error) {
	if open != nil {
		rc, ok, err := open(url)
		if err != nil {
			return nil, fmt.Errorf("failed to open artifact: %w", err)
		}
		if ok {
			defer rc.Close()
			return readArtifactData(rc)
		}
	}
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
	return readArtifactData(resp.Body)
}

func readArtifactData(rd io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rd, maxArtifactBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to download artifact: %w", err)
	}
	if len(data) > maxArtifactBytes {
		return nil, fmt.Errorf("artifact is larger than %d bytes", maxArtifactBytes)
	}
	return data, nil
}
