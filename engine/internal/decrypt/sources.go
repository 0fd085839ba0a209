package decrypt

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"reflect"
	"strings"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// ErrNotInMemory is returned by DecryptSources for a file system that is not
// kustomize's in-memory one: decrypted data must never reach a disk.
var ErrNotInMemory = errors.New("decrypted files may only be written to an in-memory file system")

var inMemoryFS = reflect.TypeOf(filesys.MakeFsInMemory())

// DecryptSources decrypts, in place in fsys, the SOPS-encrypted files that
// the kustomization in dir and every kustomization it reaches through
// resources and components refer to:
//   - secretGenerator files ("key=path" or "path"), in the format of the key's
//     extension (.json, .yaml/.yml, .env, .ini; binary otherwise);
//   - secretGenerator envs (and the older env), in the format of the file's
//     extension, dotenv when it has no known one;
//   - patches given by path, in the format of their extension.
//
// Files without the SOPS marker of their format are left as they are, so
// plain files pass through. References that leave root, do not exist or are
// remote are skipped: kustomize reports its own errors for them. fsys must
// come from filesys.MakeFsInMemory. It stops at the first failure; the error
// names the file (relative to root) and the reason.
func (d *Decryptor) DecryptSources(fsys filesys.FileSystem, root, dir string) error {
	if reflect.TypeOf(fsys) != inMemoryFS {
		return ErrNotInMemory
	}
	w := &sourceWalker{
		d:         d,
		fsys:      fsys,
		root:      path.Clean("/" + root),
		visited:   map[string]bool{},
		decrypted: map[string]bool{},
	}
	return w.visit(w.abs("/", dir))
}

type sourceWalker struct {
	d         *Decryptor
	fsys      filesys.FileSystem
	root      string
	visited   map[string]bool // kustomization directories
	decrypted map[string]bool // files already decrypted
}

// abs resolves ref against dir; absolute refs are taken as they are.
func (w *sourceWalker) abs(dir, ref string) string {
	if path.IsAbs(ref) {
		return path.Clean(ref)
	}
	return path.Join(dir, ref)
}

func (w *sourceWalker) inside(p string) bool {
	return w.root == "/" || p == w.root || strings.HasPrefix(p, w.root+"/")
}

func (w *sourceWalker) rel(p string) string {
	if r := strings.TrimPrefix(strings.TrimPrefix(p, w.root), "/"); r != "" {
		return r
	}
	return "."
}

func (w *sourceWalker) visit(dir string) error {
	if !w.inside(dir) || w.visited[dir] || !w.fsys.IsDir(dir) {
		return nil
	}
	w.visited[dir] = true
	k, err := w.load(dir)
	if err != nil || k == nil {
		return err
	}
	for _, gen := range k.SecretGenerator {
		for _, src := range gen.FileSources {
			// "key=path" names the entry; the key's extension gives the
			// format, as Flux reads it.
			key, file, found := strings.Cut(src, "=")
			if !found {
				file = key
			}
			if err := w.decryptFile(w.abs(dir, file), formatForPath(key)); err != nil {
				return err
			}
		}
		for _, env := range gen.EnvSources {
			f := formatForPath(env)
			if f == formats.Binary {
				f = formats.Dotenv
			}
			if err := w.decryptFile(w.abs(dir, env), f); err != nil {
				return err
			}
		}
	}
	for _, p := range k.Patches {
		if p.Path == "" || isRemote(p.Path) {
			continue
		}
		if err := w.decryptFile(w.abs(dir, p.Path), formatForPath(p.Path)); err != nil {
			return err
		}
	}
	for _, ref := range append(append([]string{}, k.Resources...), k.Components...) {
		if isRemote(ref) {
			continue
		}
		if err := w.visit(w.abs(dir, ref)); err != nil {
			return err
		}
	}
	return nil
}

// load reads the kustomization file of dir; nil when dir has none.
func (w *sourceWalker) load(dir string) (*types.Kustomization, error) {
	var file string
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(dir, name)
		if !w.fsys.Exists(p) || w.fsys.IsDir(p) {
			continue
		}
		if file != "" {
			return nil, fmt.Errorf("%w: %s has more than one kustomization file", ErrMalformed, w.rel(dir))
		}
		file = p
	}
	if file == "" {
		return nil, nil
	}
	data, err := w.fsys.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", w.rel(file), err)
	}
	k := &types.Kustomization{}
	if err := yaml.Unmarshal(data, k); err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid kustomization: %w", ErrMalformed, w.rel(file), err)
	}
	k.FixKustomization()
	return k, nil
}

func (w *sourceWalker) decryptFile(p string, f formats.Format) error {
	if !w.inside(p) || w.decrypted[p] || !w.fsys.Exists(p) || w.fsys.IsDir(p) {
		return nil
	}
	data, err := w.fsys.ReadFile(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.rel(p), err)
	}
	if !bytes.Contains(data, markerFor(f)) {
		return nil
	}
	if int64(len(data)) > w.d.maxFileSize {
		return fmt.Errorf("decrypting %s: %w: %d bytes exceed the limit of %d", w.rel(p), ErrMalformed, len(data), w.d.maxFileSize)
	}
	plain, err := w.d.decryptDocument(data, f, f, macVerify)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", w.rel(p), err)
	}
	if err := w.fsys.WriteFile(p, plain); err != nil {
		return fmt.Errorf("writing decrypted %s: %w", w.rel(p), err)
	}
	w.decrypted[p] = true
	return nil
}

// isRemote tells a URL (scheme and host) from a path, as Flux does.
func isRemote(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && u.Scheme != "" && u.Host != ""
}
