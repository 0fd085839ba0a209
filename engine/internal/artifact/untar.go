package artifact

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Limits bound what an untrusted artifact may unpack to.
type Limits struct {
	// MaxBytes is the most the regular files may add up to.
	MaxBytes int64
	// MaxEntries is the most entries the tarball may hold.
	MaxEntries int
}

// DefaultLimits are generous for manifests and small enough for memory.
var DefaultLimits = Limits{MaxBytes: 500 << 20, MaxEntries: 100_000}

// FS is where Untar writes; kustomize's filesys.FileSystem is one.
type FS interface {
	MkdirAll(path string) error
	WriteFile(path string, data []byte) error
}

// ErrUnsafe marks an artifact refused for what it holds, not for an I/O
// failure: an entry that escapes the root, a link that points out of it,
// an entry that is neither a file, a directory nor a link, or one over
// the limits.
var ErrUnsafe = errors.New("unsafe artifact")

// headerSlack is what the tar format adds per entry around the file data
// (a header block and the padding of the last data block), for the cap on
// the decompressed stream.
const headerSlack = 2 * 512

// Untar unpacks the gzip-compressed tarball r below root in dst. Regular
// files and directories are written; symbolic and hard links that stay
// inside the tarball are left out, as source-controller's own archives
// never hold them; anything else fails the whole artifact, as do an
// absolute name, a name or link target that climbs out of the root, and
// more entries or bytes than lim allows. The decompressed stream itself is
// capped, so a gzip bomb fails early instead of filling memory.
func Untar(r io.Reader, dst FS, root string, lim Limits) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("artifact is not gzip: %w", err)
	}
	// Every entry is counted against MaxEntries and its data against
	// MaxBytes before it is read; this bounds the rest: headers, padding
	// and the extended headers (long names, PAX records) that the tar
	// reader consumes on its own.
	capped := &cappedReader{r: zr, left: lim.MaxBytes + int64(lim.MaxEntries+2)*headerSlack}
	tr := tar.NewReader(capped)
	if err := dst.MkdirAll(root); err != nil {
		return err
	}
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading artifact: %w", capped.explain(err))
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafe, lim.MaxEntries)
		}
		// Whatever the type, the data of an entry is read (or skipped,
		// which decompresses it too): count it all.
		if h.Size < 0 || h.Size > lim.MaxBytes-total {
			return fmt.Errorf("%w: unpacks to more than %d bytes", ErrUnsafe, lim.MaxBytes)
		}
		total += h.Size
		rel, err := entryPath(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
		case tar.TypeDir:
			if err := dst.MkdirAll(path.Join(root, rel)); err != nil {
				return fmt.Errorf("unpacking %q: %w", h.Name, err)
			}
		case tar.TypeReg:
			if rel == "." {
				return fmt.Errorf("%w: file entry %q has no name", ErrUnsafe, h.Name)
			}
			b := make([]byte, h.Size)
			if _, err := io.ReadFull(tr, b); err != nil {
				return fmt.Errorf("reading %q: %w", h.Name, capped.explain(err))
			}
			name := path.Join(root, rel)
			if err := dst.MkdirAll(path.Dir(name)); err != nil {
				return fmt.Errorf("unpacking %q: %w", h.Name, err)
			}
			if err := dst.WriteFile(name, b); err != nil {
				return fmt.Errorf("unpacking %q: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			// A link target is relative to the link's directory.
			if path.IsAbs(h.Linkname) || escapes(path.Join(path.Dir(rel), h.Linkname)) {
				return fmt.Errorf("%w: link %q points out of the artifact to %q", ErrUnsafe, h.Name, h.Linkname)
			}
		case tar.TypeLink:
			// A hard link target is a name in the tarball.
			if _, err := entryPath(h.Linkname); err != nil {
				return fmt.Errorf("%w: link %q points out of the artifact to %q", ErrUnsafe, h.Name, h.Linkname)
			}
		default:
			return fmt.Errorf("%w: entry %q is not a regular file, directory or link", ErrUnsafe, h.Name)
		}
	}
}

// entryPath is name relative to the root, or an error when it is absolute
// or climbs out of the root anywhere along the way.
func entryPath(name string) (string, error) {
	if path.IsAbs(name) || strings.HasPrefix(name, `\`) || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: entry %q escapes the root", ErrUnsafe, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: entry %q escapes the root", ErrUnsafe, name)
		}
	}
	return path.Clean(name), nil
}

// escapes tells whether the cleaned relative path p leaves the root.
func escapes(p string) bool {
	p = path.Clean(p)
	return p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p)
}

// cappedReader fails once more than left bytes were read.
type cappedReader struct {
	r    io.Reader
	left int64
	hit  bool
}

var errCapped = errors.New("decompressed stream over the limit")

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.hit = true
		return 0, errCapped
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// explain turns a read failure caused by the cap into an ErrUnsafe.
func (c *cappedReader) explain(err error) error {
	if c.hit {
		return fmt.Errorf("%w: %w", ErrUnsafe, errCapped)
	}
	return err
}
