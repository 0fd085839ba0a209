package build

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// LoadDir copies the regular files under dir (not .git) into a new
// in-memory file system under SrcRoot, for a build of a local checkout.
// Symlinks are not followed.
func LoadDir(dir string) (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	if err := mem.MkdirAll(SrcRoot); err != nil {
		return nil, err
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		target := path.Join(SrcRoot, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return mem.MkdirAll(target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return mem.WriteFile(target, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	return mem, nil
}
