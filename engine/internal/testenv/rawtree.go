package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// RawEntry is one entry of a tree built with git's plumbing, which takes
// names that a working copy cannot hold, such as ".." or ".git".
type RawEntry struct {
	// Path is slash separated; its elements become nested trees.
	Path string
	// Mode is "100644" (a file) or "120000" (a symbolic link).
	Mode string
	// Content is the file's content or the link's target.
	Content string
}

// CommitRawTree commits a tree of exactly these entries on branch (on top
// of its current commit, if any) and pushes it, bypassing every check a
// working copy would make. It returns the commit's SHA-1.
func (r *Repo) CommitRawTree(branch, msg string, entries []RawEntry) string {
	r.t.Helper()
	tree := r.mktree(entries)
	args := []string{"commit-tree", tree, "-m", msg}
	if parent, err := exec.Command("git", "-C", r.Dir, "rev-parse", "--verify", "--quiet", branch).Output(); err == nil {
		args = append(args, "-p", strings.TrimSpace(string(parent)))
	}
	sha := git(r.t, r.Dir, args...)
	git(r.t, r.Dir, "update-ref", "refs/heads/"+branch, sha)
	git(r.t, r.Dir, "push", "--quiet", "origin", branch)
	return sha
}

func (r *Repo) mktree(entries []RawEntry) string {
	r.t.Helper()
	children := map[string][]RawEntry{}
	var lines []string
	for _, e := range entries {
		if dir, rest, ok := strings.Cut(e.Path, "/"); ok {
			children[dir] = append(children[dir], RawEntry{Path: rest, Mode: e.Mode, Content: e.Content})
			continue
		}
		blob := r.stdin(e.Content, "hash-object", "-w", "--stdin")
		lines = append(lines, fmt.Sprintf("%s blob %s\t%s", e.Mode, blob, e.Path))
	}
	for dir, sub := range children {
		lines = append(lines, fmt.Sprintf("040000 tree %s\t%s", r.mktree(sub), dir))
	}
	sort.Strings(lines)
	return r.stdin(strings.Join(lines, "\n")+"\n", "mktree")
}

// stdin runs git in the working copy with input on its standard input.
func (r *Repo) stdin(input string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+os.TempDir())
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
