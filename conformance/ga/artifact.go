package ga

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
)

var httpClient = &http.Client{Timeout: 30 * time.Second}

// artifactURL is the artifact's URL, with its scheme and host replaced by
// Options.ArtifactBaseURL when that is set.
func (t *T) artifactURL(raw string) string {
	if t.s.opts.ArtifactBaseURL == "" {
		return raw
	}
	u, err := url.Parse(raw)
	t.Check(err, "parse the artifact URL")
	base, err := url.Parse(t.s.opts.ArtifactBaseURL)
	t.Check(err, "parse the artifact base URL")
	u.Scheme, u.Host = base.Scheme, base.Host
	return u.String()
}

// Download fetches the GitRepository's artifact and returns its bytes.
func (t *T) Download(gr *sourcev1.GitRepository) []byte {
	if gr.Status.Artifact == nil {
		t.Fatalf("GitRepository %s has no artifact", gr.Name)
	}
	u := t.artifactURL(gr.Status.Artifact.URL)
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatalf("download the artifact %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download the artifact %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download the artifact %s: HTTP %d", u, resp.StatusCode)
	}
	return b
}

// artifactStatus GETs the artifact's URL and returns the HTTP status.
func (t *T) artifactStatus(raw string) (int, error) {
	resp, err := httpClient.Get(t.artifactURL(raw))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Files downloads the artifact and returns its regular files (path →
// content), paths cleaned of a leading "./".
func (t *T) Files(gr *sourcev1.GitRepository) map[string]string {
	files, err := untar(t.Download(gr))
	t.Check(err, "read the artifact as tar.gz")
	return files
}

func untar(b []byte) (map[string]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		c, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(h.Name, "./")] = string(c)
	}
}

// expectFiles checks that the artifact holds exactly want (paths).
func expectFiles(got map[string]string, want ...string) error {
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		return fmt.Errorf("artifact holds %v, want %v", names, want)
	}
	return nil
}
