package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/weir-gitops/weir/engine/internal/controller/kustomization"
)

// localArtifacts opens the artifacts this engine serves from its storage
// directory root, those whose URL starts with baseURL (built from
// --storage-adv-addr), so the Kustomization stage skips the HTTP hop. The
// path is opened through an os.Root: nothing outside root can be read,
// links included. An artifact the directory does not hold (another
// replica wrote it) is left to HTTP.
func localArtifacts(root, baseURL string) kustomization.ArtifactOpener {
	base, err := url.Parse(baseURL)
	return func(raw string) (io.ReadCloser, bool, error) {
		if err != nil {
			return nil, false, nil
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.RawQuery != "" {
			return nil, false, nil
		}
		rel, ok := strings.CutPrefix(u.Path, base.Path+"/")
		if !ok || rel == "" {
			return nil, false, nil
		}
		r, err := os.OpenRoot(root)
		if err != nil {
			return nil, false, fmt.Errorf("opening the storage directory: %w", err)
		}
		defer r.Close()
		f, err := r.Open(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("opening artifact %q from storage: %w", rel, err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			_ = f.Close()
			return nil, false, fmt.Errorf("artifact %q in storage is not a regular file", rel)
		}
		return f, true, nil
	}
}
