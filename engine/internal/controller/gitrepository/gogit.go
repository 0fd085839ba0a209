package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GoGit is the Fetcher over go-git: shallow clones for branches, tags and
// semver ranges, one ls-remote to resolve a reference without cloning.
type GoGit struct{}

var _ Fetcher = GoGit{}

type resolved struct {
	ref   plumbing.ReferenceName // what to clone; empty for a bare commit
	label string                 // the revision's name part
	hash  string                 // known commit, if any
}

// Latest resolves the reference with one ls-remote round trip.
func (GoGit) Latest(ctx context.Context, req FetchRequest) (string, error) {
	ref := req.Reference
	if ref != nil && ref.Commit != "" {
		return "", nil // a commit is its own revision, but needs the clone to be verified
	}
	refs, err := list(ctx, req)
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
func (GoGit) Checkout(ctx context.Context, dir string, req FetchRequest) (Checkout, error) {
	ref := req.Reference
	auth, err := authMethod(req)
	if err != nil {
		return Checkout{}, err
	}
	sparse := SparseDirs(req.SparseCheckout)
	clone := &git.CloneOptions{URL: req.URL, Auth: auth, Tags: git.NoTags,
		CABundle: req.Auth["ca.crt"], ClientCert: req.Auth["tls.crt"], ClientKey: req.Auth["tls.key"],
		ProxyOptions: transport.ProxyOptions{URL: req.ProxyURL}, RecurseSubmodules: git.NoRecurseSubmodules,
		NoCheckout: len(sparse) > 0 || (ref != nil && ref.Commit != "")}
	if req.RecurseSubmodules && len(sparse) == 0 {
		clone.RecurseSubmodules = git.DefaultSubmoduleRecursionDepth
	}
	var (
		label string
		want  plumbing.Hash
		r     resolved
	)
	if ref != nil && ref.Commit != "" {
		if ref.Branch != "" {
			clone.ReferenceName, clone.SingleBranch, label = plumbing.NewBranchReferenceName(ref.Branch), true, ref.Branch
		}
		want = plumbing.NewHash(ref.Commit)
	} else {
		refs, err := list(ctx, req)
		if err != nil {
			return Checkout{}, err
		}
		if r, err = resolve(ref, refs); err != nil {
			return Checkout{}, err
		}
		clone.ReferenceName, clone.SingleBranch, clone.Depth, label = r.ref, true, 1, r.label
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, clone)
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
	if err := checkoutTree(repo, want, sparse, clone.NoCheckout); err != nil {
		return Checkout{}, err
	}
	if clone.NoCheckout && req.RecurseSubmodules && len(sparse) == 0 {
		// The clone skipped the checkout, and with it the submodules.
		if err := updateSubmodules(ctx, repo, auth); err != nil {
			return Checkout{}, err
		}
	}
	out := Checkout{Revision: "sha1:" + want.String()}
	if label != "" {
		out.Revision = label + "@" + out.Revision
	}
	c, err := repo.CommitObject(want)
	if err != nil {
		return Checkout{}, fmt.Errorf("reading commit '%s': %w", want, err)
	}
	if out.Commit, err = signedCommit(c); err != nil {
		return Checkout{}, err
	}
	if r.ref.IsTag() {
		if out.Tag, err = signedTag(repo, r.ref); err != nil {
			return Checkout{}, err
		}
	}
	return out, nil
}

func updateSubmodules(ctx context.Context, repo *git.Repository, auth transport.AuthMethod) error {
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("opening the worktree: %w", err)
	}
	subs, err := wt.Submodules()
	if err != nil {
		return fmt.Errorf("reading submodules: %w", err)
	}
	if err := subs.UpdateContext(ctx, &git.SubmoduleUpdateOptions{Init: true, Auth: auth,
		RecurseSubmodules: git.DefaultSubmoduleRecursionDepth}); err != nil {
		return fmt.Errorf("updating submodules: %w", err)
	}
	return nil
}

// checkoutTree checks out commit h, limited to the sparse directories when
// there are any, and fails when one of them is not a directory of the
// commit's tree.
func checkoutTree(repo *git.Repository, h plumbing.Hash, sparse []string, needed bool) error {
	if len(sparse) > 0 {
		c, err := repo.CommitObject(h)
		if err != nil {
			return fmt.Errorf("unable to checkout commit '%s': %w", h, err)
		}
		tree, err := c.Tree()
		if err != nil {
			return fmt.Errorf("reading the tree of '%s': %w", h, err)
		}
		for _, d := range sparse {
			e, err := tree.FindEntry(d)
			if err != nil || e.Mode != filemode.Dir {
				return fmt.Errorf("failed to sparse checkout directories: sparse checkout dir '%s' does not exist in repository", d)
			}
		}
	}
	if !needed {
		return nil
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
	if err := wt.Checkout(&git.CheckoutOptions{Hash: h, Force: true, SparseCheckoutDirectories: dirs}); err != nil {
		return fmt.Errorf("unable to checkout commit '%s': %w", h, err)
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
func signedTag(repo *git.Repository, n plumbing.ReferenceName) (*SignedObject, error) {
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

func list(ctx context.Context, req FetchRequest) ([]*plumbing.Reference, error) {
	auth, err := authMethod(req)
	if err != nil {
		return nil, err
	}
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{req.URL}})
	opts := &git.ListOptions{Auth: auth, CABundle: req.Auth["ca.crt"], ClientCert: req.Auth["tls.crt"], ClientKey: req.Auth["tls.key"],
		ProxyOptions: transport.ProxyOptions{URL: req.ProxyURL}, PeelingOption: git.AppendPeeled}
	refs, err := remote.ListContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("unable to list references of '%s': %w", redact(req.URL), err)
	}
	return refs, nil
}

// resolve applies Flux's precedence: name, tag, semver, branch (default
// master). Commits are handled by the callers.
func resolve(ref *sourcev1.GitRepositoryRef, refs []*plumbing.Reference) (resolved, error) {
	byName := make(map[plumbing.ReferenceName]string, len(refs))
	for _, r := range refs {
		if r.Type() == plumbing.HashReference {
			byName[r.Name()] = r.Hash().String()
		}
	}
	// Peeled tags ("^{}") point at the commit of an annotated tag.
	lookup := func(n plumbing.ReferenceName) (string, bool) {
		if h, ok := byName[n+"^{}"]; ok {
			return h, true
		}
		h, ok := byName[n]
		return h, ok
	}
	switch {
	case ref != nil && ref.Name != "":
		n := plumbing.ReferenceName(ref.Name)
		h, ok := lookup(n)
		if !ok {
			return resolved{}, fmt.Errorf("reference '%s' not found", ref.Name)
		}
		return resolved{ref: n, label: ref.Name, hash: h}, nil
	case ref != nil && ref.Tag != "":
		n := plumbing.NewTagReferenceName(ref.Tag)
		h, ok := lookup(n)
		if !ok {
			return resolved{}, fmt.Errorf("tag '%s' not found", ref.Tag)
		}
		return resolved{ref: n, label: ref.Tag, hash: h}, nil
	case ref != nil && ref.SemVer != "":
		return resolveSemver(ref.SemVer, byName, lookup)
	default:
		branch := "master"
		if ref != nil && ref.Branch != "" {
			branch = ref.Branch
		}
		n := plumbing.NewBranchReferenceName(branch)
		h, ok := byName[n]
		if !ok {
			return resolved{}, fmt.Errorf("couldn't find remote ref '%s'", n)
		}
		return resolved{ref: n, label: branch, hash: h}, nil
	}
}

func resolveSemver(rng string, byName map[plumbing.ReferenceName]string, lookup func(plumbing.ReferenceName) (string, bool)) (resolved, error) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return resolved{}, fmt.Errorf("semver parse error: %w", err)
	}
	type cand struct {
		v   *semver.Version
		tag string
	}
	var cands []cand
	for n := range byName {
		if !n.IsTag() || strings.HasSuffix(string(n), "^{}") {
			continue
		}
		tag := n.Short()
		v, err := semver.NewVersion(tag)
		if err != nil || !c.Check(v) {
			continue
		}
		cands = append(cands, cand{v, tag})
	}
	if len(cands) == 0 {
		return resolved{}, fmt.Errorf("no match found for semver: %s", rng)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].v.Equal(cands[j].v) {
			return cands[i].tag < cands[j].tag
		}
		return cands[i].v.LessThan(cands[j].v)
	})
	best := cands[len(cands)-1]
	n := plumbing.NewTagReferenceName(best.tag)
	h, _ := lookup(n)
	return resolved{ref: n, label: best.tag, hash: h}, nil
}

// authMethod maps a Secret's data, with Flux's key names, to go-git auth.
func authMethod(req FetchRequest) (transport.AuthMethod, error) {
	d := req.Auth
	if len(d) == 0 {
		return nil, nil
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if tok := d["bearerToken"]; len(tok) > 0 {
			return &githttp.TokenAuth{Token: string(tok)}, nil
		}
		if user, pass := d["username"], d["password"]; len(user) > 0 || len(pass) > 0 {
			return &githttp.BasicAuth{Username: string(user), Password: string(pass)}, nil
		}
		return nil, nil
	case "ssh":
		user := u.User.Username()
		if user == "" {
			user = "git"
		}
		if len(d["identity"]) == 0 {
			return nil, errors.New("invalid secret: 'identity' is required for ssh")
		}
		keys, err := gitssh.NewPublicKeys(user, d["identity"], string(d["password"]))
		if err != nil {
			return nil, fmt.Errorf("invalid 'identity': %w", err)
		}
		cb, err := hostKeyCallback(d["known_hosts"])
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = cb
		return keys, nil
	default:
		return nil, fmt.Errorf("unsupported url scheme %q", u.Scheme)
	}
}

func hostKeyCallback(knownHosts []byte) (ssh.HostKeyCallback, error) {
	if len(knownHosts) == 0 {
		return nil, errors.New("invalid secret: 'known_hosts' is required for ssh")
	}
	f, err := os.CreateTemp("", "known_hosts-")
	if err != nil {
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(knownHosts); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	f.Close()
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("invalid 'known_hosts': %w", err)
	}
	return cb, nil
}

// redact drops credentials from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid url>"
	}
	u.User = nil
	return u.String()
}
