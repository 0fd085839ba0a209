package gitserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Repo is a working copy whose pushes go to its bare repository.
type Repo struct {
	Dir string
}

// Write writes files (path → content; empty content deletes the file) into
// the working copy.
func (r *Repo) Write(files map[string]string) error {
	for p, c := range files {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if c == "" {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Commit writes files, commits them and pushes the current branch. It
// returns the commit's SHA-1.
func (r *Repo) Commit(msg string, files map[string]string) (string, error) {
	if err := r.Write(files); err != nil {
		return "", fmt.Errorf("write files: %w", err)
	}
	if _, err := r.Git("add", "-A"); err != nil {
		return "", err
	}
	if _, err := r.Git("commit", "--quiet", "--allow-empty", "-m", msg); err != nil {
		return "", err
	}
	return r.PushHead()
}

// PushHead pushes the current branch and returns the SHA-1 of HEAD.
func (r *Repo) PushHead() (string, error) {
	branch, err := r.Git("rev-parse", "--abbrev-ref", "HEAD")
	if err != nil {
		return "", err
	}
	if _, err := r.Git("push", "--quiet", "--force", "origin", branch); err != nil {
		return "", err
	}
	return r.Git("rev-parse", "HEAD")
}

// Tag creates a lightweight tag of HEAD and pushes it.
func (r *Repo) Tag(name string) error { return r.tag(name, "tag", name) }

// AnnotatedTag creates an annotated tag of HEAD and pushes it.
func (r *Repo) AnnotatedTag(name string) error { return r.tag(name, "tag", "-a", name, "-m", name) }

func (r *Repo) tag(name string, args ...string) error {
	if _, err := r.Git(args...); err != nil {
		return err
	}
	_, err := r.Git("push", "--quiet", "origin", "refs/tags/"+name)
	return err
}

// Git runs git in the working copy and returns its trimmed output.
func (r *Repo) Git(args ...string) (string, error) { return run(r.Dir, args...) }

func run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Weir Test", "GIT_AUTHOR_EMAIL=test@weir.dev",
		"GIT_COMMITTER_NAME=Weir Test", "GIT_COMMITTER_EMAIL=test@weir.dev",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "HOME="+os.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}
