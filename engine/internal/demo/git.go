package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/weir-gitops/weir/conformance/gitserver"
)

// gitServer serves bare repositories under root over smart HTTP with
// `git http-backend` (package gitserver, shared with the conformance suite
// and the tests).
type gitServer struct {
	root string
	*gitserver.Server
}

func startGitServer(root string) (*gitServer, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the demo's git directory: %w", err)
	}
	srv, err := gitserver.Start(gitserver.Options{Root: root})
	if err != nil {
		return nil, fmt.Errorf("starting the demo's git server: %w", err)
	}
	return &gitServer{root: root, Server: srv}, nil
}

func (s *gitServer) url(name string) string { return s.URL(name) }

func (s *gitServer) close() { _ = s.Close() }

// snapshot commits the content of dir to the bare repository name on
// branch main when it differs from the last snapshot; it returns whether it
// made a commit.
func (s *gitServer) snapshot(ctx context.Context, name, dir string, last *string) (bool, error) {
	sum, err := treeHash(dir)
	if err != nil {
		return false, err
	}
	if sum == *last {
		return false, nil
	}
	bare := filepath.Join(s.root, name+".git")
	if _, err := os.Stat(bare); err != nil {
		if err := run(ctx, "", "init", "--quiet", "--bare", "--initial-branch=main", bare); err != nil {
			return false, err
		}
	}
	work, err := os.MkdirTemp("", "weir-demo-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(work)
	if err := copyTree(dir, work); err != nil {
		return false, err
	}
	for _, args := range [][]string{
		{"init", "--quiet", "--initial-branch=main"},
		{"add", "-A"},
		{"-c", "user.name=Weir demo", "-c", "user.email=demo@weir.invalid", "commit", "--quiet", "-m", "demo snapshot " + sum[:12]},
		{"push", "--quiet", "--force", bare, "main"},
	} {
		if err := run(ctx, work, args...); err != nil {
			return false, err
		}
	}
	*last = sum
	return true, nil
}

func run(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, out)
	}
	return nil
}

// treeHash hashes the paths and contents of the regular files under dir.
func treeHash(dir string) (string, error) {
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
