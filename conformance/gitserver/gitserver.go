package gitserver

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Root holds the bare repositories and the working copies; it must
	// exist.
	Root string
	// ListenAddr is where the server listens; empty means 127.0.0.1:0.
	ListenAddr string
	// AdvertiseHost replaces the host (and port, if it has one) of the
	// listen address in the URLs the server hands out, for clients that
	// reach it through another name. Empty means the listen address.
	AdvertiseHost string
}

// Server serves the bare repositories under Options.Root over smart HTTP.
type Server struct {
	root string
	base string
	srv  *http.Server
	ln   net.Listener

	mu    sync.Mutex
	creds map[string][2]string // repository name → username, password
}

// Start starts a server. Close stops it.
func Start(o Options) (*Server, error) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("the git server needs git: %w", err)
	}
	if o.Root == "" {
		return nil, errors.New("gitserver: Options.Root is empty")
	}
	addr := o.ListenAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the git server: %w", err)
	}
	host := ln.Addr().String()
	if o.AdvertiseHost != "" {
		host = o.AdvertiseHost
		if _, _, err := net.SplitHostPort(host); err != nil {
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			host = net.JoinHostPort(host, port)
		}
	}
	s := &Server{root: o.Root, base: "http://" + host, ln: ln, creds: map[string][2]string{}}
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env:    []string{"GIT_PROJECT_ROOT=" + o.Root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard} // "Not a git repository" for a missing one: the client sees the 404
	s.srv = &http.Server{Handler: s.authorize(backend), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Handler serves the repositories (and checks RequireBasicAuth), for
// callers that put their own server in front.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Root is the directory of the bare repositories.
func (s *Server) Root() string { return s.root }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL of the repository named name, as clients should use it.
func (s *Server) URL(name string) string { return s.base + "/" + name + ".git" }

// RequireBasicAuth makes the repository named name answer only requests
// with these HTTP basic credentials.
func (s *Server) RequireBasicAuth(name, username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[name] = [2]string{username, password}
}

func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git")
		s.mu.Lock()
		want, ok := s.creds[name]
		s.mu.Unlock()
		if ok {
			u, p, given := r.BasicAuth()
			if !given || subtle.ConstantTimeCompare([]byte(u), []byte(want[0])) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(want[1])) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// NewRepo creates an empty bare repository called name and a working copy
// of it on branch main, in dir (a new directory under the root, and so
// served too, when dir is empty).
func (s *Server) NewRepo(name, dir string) (*Repo, error) {
	bare := filepath.Join(s.root, name+".git")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(s.root, "work-"); err != nil {
			return nil, fmt.Errorf("create the working copy: %w", err)
		}
	}
	r := &Repo{Dir: dir}
	for _, step := range []struct {
		dir  string
		args []string
	}{
		{"", []string{"init", "--quiet", "--bare", "--initial-branch=main", bare}},
		{bare, []string{"config", "http.receivepack", "true"}},
		{"", []string{"init", "--quiet", "--initial-branch=main", dir}},
		{dir, []string{"remote", "add", "origin", bare}},
	} {
		if _, err := run(step.dir, step.args...); err != nil {
			return nil, err
		}
	}
	return r, nil
}
