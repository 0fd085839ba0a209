package testenv

import (
	"testing"

	"github.com/weir-gitops/weir/conformance/gitserver"
)

// GitServer is a real git remote: bare repositories served over smart HTTP
// by `git http-backend` (package gitserver), bound to a test.
type GitServer struct {
	root string
	*gitserver.Server
}

// NewGitServer starts a git server for the test; it stops when the test ends.
func NewGitServer(t testing.TB) *GitServer {
	t.Helper()
	root := t.TempDir()
	s, err := gitserver.Start(gitserver.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &GitServer{root: root, Server: s}
}

// Repo is a working copy whose pushes go to the server; its methods fail
// the test on error.
type Repo struct {
	t   testing.TB
	Dir string
	r   *gitserver.Repo
}

// NewRepo creates an empty bare repository on the server and a working copy
// with branch main.
func (s *GitServer) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	r, err := s.Server.NewRepo(name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{t: t, Dir: r.Dir, r: r}
}

// Commit writes files (path → content; empty content deletes the file),
// commits them and pushes the branch. It returns the commit's SHA-1.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	sha, err := r.r.Commit(msg, files)
	r.check(err)
	return sha
}

func (r *Repo) write(files map[string]string) { r.t.Helper(); r.check(r.r.Write(files)) }

func (r *Repo) pushHead() string {
	r.t.Helper()
	sha, err := r.r.PushHead()
	r.check(err)
	return sha
}

// Tag tags HEAD and pushes the tag.
func (r *Repo) Tag(name string) { r.t.Helper(); r.check(r.r.Tag(name)) }

// AnnotatedTag creates an unsigned annotated tag of HEAD and pushes it.
func (r *Repo) AnnotatedTag(name string) { r.t.Helper(); r.check(r.r.AnnotatedTag(name)) }

// Git runs git in the working copy and returns its trimmed output.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	out, err := r.r.Git(args...)
	r.check(err)
	return out
}

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := (&gitserver.Repo{Dir: dir}).Git(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (r *Repo) check(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}
