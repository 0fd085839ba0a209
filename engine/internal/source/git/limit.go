package git

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/go-git/go-billy/v5"
)

// DefaultMaxSize caps what one checkout may write (packs, objects and
// files together) when Client.MaxSize is zero.
const DefaultMaxSize int64 = 1 << 30

// ErrTooLarge is returned when a fetch writes more than its size cap: an
// oversized repository, or a remote that streams without end.
var ErrTooLarge = errors.New("repository exceeds the size limit")

// budget is the bytes a checkout may still write, shared by every file it
// opens.
type budget struct {
	limit int64
	used  atomic.Int64
}

func (b *budget) take(n int) error {
	if b.used.Add(int64(n)) > b.limit {
		return fmt.Errorf("%w of %d bytes", ErrTooLarge, b.limit)
	}
	return nil
}

// limitedFS is a billy.Filesystem whose files stop taking writes once the
// budget is spent, so that neither the pack nor the checkout can fill the
// disk.
type limitedFS struct {
	billy.Filesystem
	b *budget
}

// Capabilities are those of the wrapped file system.
func (fs limitedFS) Capabilities() billy.Capability { return billy.Capabilities(fs.Filesystem) }

func (fs limitedFS) Create(name string) (billy.File, error) {
	return fs.wrap(fs.Filesystem.Create(name))
}

func (fs limitedFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	return fs.wrap(fs.Filesystem.OpenFile(name, flag, perm))
}

func (fs limitedFS) TempFile(dir, prefix string) (billy.File, error) {
	return fs.wrap(fs.Filesystem.TempFile(dir, prefix))
}

func (fs limitedFS) Chroot(path string) (billy.Filesystem, error) {
	inner, err := fs.Filesystem.Chroot(path)
	if err != nil {
		return nil, err
	}
	return limitedFS{Filesystem: inner, b: fs.b}, nil
}

func (fs limitedFS) wrap(f billy.File, err error) (billy.File, error) {
	if err != nil {
		return nil, err
	}
	return limitedFile{File: f, b: fs.b}, nil
}

type limitedFile struct {
	billy.File
	b *budget
}

func (f limitedFile) Write(p []byte) (int, error) {
	if err := f.b.take(len(p)); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}
