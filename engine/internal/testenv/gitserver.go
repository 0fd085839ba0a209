package testenv

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GitServer is a real git remote: bare repositories served over smart HTTP
// by `git http-backend`.
type GitServer struct {
	root string
	srv  *httptest.Server
}

// NewGitServer starts a git server for the test; it stops when the test ends.
func NewGitServer(t testing.TB) *GitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed for this test: %v", err)
	}
	root := t.TempDir()
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &GitServer{root: root, srv: srv}
}

// Stop takes the server away: every later request fails to connect.
func (s *GitServer) Stop() { s.srv.Close() }

// URL of the repository named name.
func (s *GitServer) URL(name string) string { return s.srv.URL + "/" + name + ".git" }

// Repo is a working copy whose pushes go to the server.
type Repo struct {
	t   testing.TB
	Dir string
}

// NewRepo creates an empty bare repository on the server and a working copy
// with branch main.
func (s *GitServer) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	bare := filepath.Join(s.root, name+".git")
	git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", bare)
	git(t, bare, "config", "http.receivepack", "true")
	dir := t.TempDir()
	git(t, "", "init", "--quiet", "--initial-branch=main", dir)
	git(t, dir, "remote", "add", "origin", bare)
	return &Repo{t: t, Dir: dir}
}

// Commit writes files (path → content; empty content deletes the file),
// commits them and pushes the branch. It returns the commit's SHA-1.
func (r *Repo) Commit(msg string, files map[string]string) string {
	r.t.Helper()
	r.write(files)
	git(r.t, r.Dir, "add", "-A")
	git(r.t, r.Dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	return r.pushHead()
}

// write writes files (path → content; empty content deletes the file)
// into the working copy.
func (r *Repo) write(files map[string]string) {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.Dir, p)
		if c == "" {
			_ = os.Remove(full)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// pushHead pushes the current branch and returns the SHA-1 of HEAD.
func (r *Repo) pushHead() string {
	r.t.Helper()
	branch := git(r.t, r.Dir, "rev-parse", "--abbrev-ref", "HEAD")
	git(r.t, r.Dir, "push", "--quiet", "origin", branch)
	return git(r.t, r.Dir, "rev-parse", "HEAD")
}

// Tag tags HEAD and pushes the tag.
func (r *Repo) Tag(name string) {
	r.t.Helper()
	git(r.t, r.Dir, "tag", name)
	git(r.t, r.Dir, "push", "--quiet", "origin", name)
}

// Git runs git in the working copy and returns its trimmed output.
func (r *Repo) Git(args ...string) string { r.t.Helper(); return git(r.t, r.Dir, args...) }

func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Weir Test", "GIT_AUTHOR_EMAIL=test@weir.dev",
		"GIT_COMMITTER_NAME=Weir Test", "GIT_COMMITTER_EMAIL=test@weir.dev",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
