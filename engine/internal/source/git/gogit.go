package git

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Client fetches with go-git: shallow clones for branches, tags and semver
// ranges, one ls-remote to resolve a reference without cloning. The zero
// value is ready to use.
type Client struct {
	// MaxSize caps the bytes one checkout writes, pack and files
	// together; zero means DefaultMaxSize. Time is capped by the context.
	MaxSize int64
	// MaxRefsSize caps the reference advertisement an ls-remote reads
	// over HTTP(S); zero means DefaultMaxRefsSize.
	MaxRefsSize int64
}

// Latest resolves the reference with one ls-remote round trip.
func (c Client) Latest(ctx context.Context, req Request) (string, error) {
	ref := req.Reference
	if ref.Commit != "" {
		return "", nil // a commit is its own revision, but needs the clone to be verified
	}
	refs, err := c.list(ctx, req)
	if err != nil {
		return "", err
	}
	r, err := resolve(ref, refs)
	if err != nil {
		return "", err
	}
	return r.label + "@sha1:" + r.hash, nil
}

// Checkout clones the reference into dir and returns what it checked out.
// Branches, tags and semver ranges are cloned with depth 1; a commit needs
// the branch's (or the whole) history.
func (c Client) Checkout(ctx context.Context, dir string, req Request) (Checkout, error) {
	ref := req.Reference
	auth, err := authMethod(req)
	if err != nil {
		return Checkout{}, err
	}
	sparse := SparseDirs(req.SparseCheckout)
	clone := &gogit.CloneOptions{URL: req.URL, Auth: auth, Tags: gogit.NoTags,
		CABundle: req.Auth["ca.crt"], ClientCert: req.Auth["tls.crt"], ClientKey: req.Auth["tls.key"],
		ProxyOptions: transport.ProxyOptions{URL: req.ProxyURL}, RecurseSubmodules: gogit.NoRecurseSubmodules,
		// The tree is checked before anything is written from it.
		NoCheckout: true}
	var (
		label string
		want  plumbing.Hash
		r     resolved
	)
	if ref.Commit != "" {
		if ref.Branch != "" {
			clone.ReferenceName, clone.SingleBranch, label = plumbing.NewBranchReferenceName(ref.Branch), true, ref.Branch
		}
		want = plumbing.NewHash(ref.Commit)
	} else {
		refs, err := c.list(ctx, req)
		if err != nil {
			return Checkout{}, err
		}
		if r, err = resolve(ref, refs); err != nil {
			return Checkout{}, err
		}
		clone.ReferenceName, clone.SingleBranch, clone.Depth, label = r.ref, true, 1, r.label
	}
	repo, err := c.clone(ctx, dir, clone)
	if err != nil {
		return Checkout{}, fmt.Errorf("unable to clone '%s': %w", redact(req.URL), err)
	}
	if want.IsZero() {
		head, err := repo.Head()
		if err != nil {
			return Checkout{}, fmt.Errorf("reading HEAD: %w", err)
		}
		want = head.Hash()
	}
	if err := checkoutTree(repo, want, sparse); err != nil {
		return Checkout{}, err
	}
	if req.RecurseSubmodules && len(sparse) == 0 {
		if err := updateSubmodules(ctx, repo, auth); err != nil {
			return Checkout{}, err
		}
	}
	out := Checkout{Revision: "sha1:" + want.String()}
	if label != "" {
		out.Revision = label + "@" + out.Revision
	}
	commit, err := repo.CommitObject(want)
	if err != nil {
		return Checkout{}, fmt.Errorf("reading commit '%s': %w", want, err)
	}
	if out.Commit, err = signedCommit(commit); err != nil {
		return Checkout{}, err
	}
	if r.ref.IsTag() {
		if out.Tag, err = signedTag(repo, r.ref); err != nil {
			return Checkout{}, err
		}
	}
	return out, nil
}

// clone clones into dir through a file system that stops writing at the
// size cap.
func (c Client) clone(ctx context.Context, dir string, opts *gogit.CloneOptions) (*gogit.Repository, error) {
	limit := c.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSize
	}
	wt := limitedFS{Filesystem: osfs.New(dir), b: &budget{limit: limit}}
	dot, err := wt.Chroot(gogit.GitDirName)
	if err != nil {
		return nil, fmt.Errorf("creating the repository: %w", err)
	}
	return gogit.CloneContext(ctx, filesystem.NewStorage(dot, cache.NewObjectLRUDefault()), wt, opts)
}

func updateSubmodules(ctx context.Context, repo *gogit.Repository, auth transport.AuthMethod) error {
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("opening the worktree: %w", err)
	}
	subs, err := wt.Submodules()
	if err != nil {
		return fmt.Errorf("reading submodules: %w", err)
	}
	if err := subs.UpdateContext(ctx, &gogit.SubmoduleUpdateOptions{Init: true, Auth: auth,
		RecurseSubmodules: gogit.DefaultSubmoduleRecursionDepth}); err != nil {
		return fmt.Errorf("updating submodules: %w", err)
	}
	return nil
}

// checkoutTree checks out commit h, limited to the sparse directories when
// there are any. It fails when one of them is not a directory of the
// commit's tree, and before writing anything when the tree names an entry
// that could leave the checkout or reach its .git directory.
func checkoutTree(repo *gogit.Repository, h plumbing.Hash, sparse []string) error {
	c, err := repo.CommitObject(h)
	if err != nil {
		return fmt.Errorf("unable to checkout commit '%s': %w", h, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("reading the tree of '%s': %w", h, err)
	}
	if err := checkNames(repo, tree, ""); err != nil {
		return err
	}
	for _, d := range sparse {
		e, err := tree.FindEntry(d)
		if err != nil || e.Mode != filemode.Dir {
			return fmt.Errorf("failed to sparse checkout directories: sparse checkout dir '%s' does not exist in repository", d)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("opening the worktree: %w", err)
	}
	// go-git matches sparse directories as plain string prefixes, so "app"
	// would also take "app2/" and "app.yaml"; a trailing slash keeps it to
	// the directory itself.
	dirs := make([]string, len(sparse))
	for i, d := range sparse {
		dirs[i] = d + "/"
	}
	if err := wt.Checkout(&gogit.CheckoutOptions{Hash: h, Force: true, SparseCheckoutDirectories: dirs}); err != nil {
		return fmt.Errorf("unable to checkout commit '%s': %w", h, err)
	}
	return nil
}

// ErrInvalidPath is returned for a tree that names an entry no checkout
// may hold: "", ".", "..", ".git" in any case, or a name with a slash,
// backslash or NUL.
var ErrInvalidPath = errors.New("invalid path in tree")

// checkNames walks tree and refuses entries named as ErrInvalidPath says.
func checkNames(repo *gogit.Repository, tree *object.Tree, dir string) error {
	for _, e := range tree.Entries {
		p := e.Name
		if dir != "" {
			p = dir + "/" + e.Name
		}
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.EqualFold(e.Name, gogit.GitDirName) ||
			strings.ContainsAny(e.Name, "/\\\x00") {
			return fmt.Errorf("%w: '%s'", ErrInvalidPath, p)
		}
		if e.Mode != filemode.Dir {
			continue
		}
		sub, err := repo.TreeObject(e.Hash)
		if err != nil {
			return fmt.Errorf("reading tree '%s': %w", p, err)
		}
		if err := checkNames(repo, sub, p); err != nil {
			return err
		}
	}
	return nil
}

// SparseDirs normalizes spec.sparseCheckout: "./" prefixes, trailing and
// duplicate slashes and repeated entries are dropped, and the result is
// sorted so that equal sets compare equal. A root entry ("." or "/")
// means the whole tree, which is no sparse checkout at all.
func SparseDirs(dirs []string) []string {
	var out []string
	for _, d := range dirs {
		d = strings.Trim(path.Clean("/"+strings.TrimSpace(d)), "/")
		if d == "" {
			return nil
		}
		out = append(out, d)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func signedCommit(c *object.Commit) (SignedObject, error) {
	enc := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(enc); err != nil {
		return SignedObject{}, fmt.Errorf("encoding commit '%s': %w", c.Hash, err)
	}
	payload, err := readObject(enc)
	if err != nil {
		return SignedObject{}, fmt.Errorf("encoding commit '%s': %w", c.Hash, err)
	}
	return SignedObject{Hash: c.Hash.String(), Signature: c.PGPSignature, Payload: payload}, nil
}

// signedTag returns the tag object n points at; a lightweight tag has
// none, and comes back with its name only.
func signedTag(repo *gogit.Repository, n plumbing.ReferenceName) (*SignedObject, error) {
	name := n.Short()
	ref, err := repo.Reference(n, false)
	if err != nil {
		return nil, fmt.Errorf("reading tag '%s': %w", name, err)
	}
	t, err := repo.TagObject(ref.Hash())
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return &SignedObject{Name: name}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tag '%s': %w", name, err)
	}
	enc := &plumbing.MemoryObject{}
	if err := t.EncodeWithoutSignature(enc); err != nil {
		return nil, fmt.Errorf("encoding tag '%s': %w", name, err)
	}
	payload, err := readObject(enc)
	if err != nil {
		return nil, fmt.Errorf("encoding tag '%s': %w", name, err)
	}
	return &SignedObject{Hash: t.Hash.String(), Name: name, Signature: t.PGPSignature, Payload: payload}, nil
}

func readObject(o plumbing.EncodedObject) ([]byte, error) {
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}
