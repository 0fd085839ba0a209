package testenv

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHGitServer serves a GitServer's repositories over SSH: each session
// runs `git upload-pack` for the repository it names. Only clients whose
// key is authorized get in, and it offers one Ed25519 host key.
type SSHGitServer struct {
	ln      net.Listener
	root    string
	hostKey ssh.Signer
	config  *ssh.ServerConfig

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// ServeSSH starts an SSH server on 127.0.0.1 for the repositories of s
// that lets in the holders of the authorized keys; it stops when the test
// ends.
func (s *GitServer) ServeSSH(t testing.TB, authorized ...ssh.PublicKey) *SSHGitServer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		for _, k := range authorized {
			if bytes.Equal(k.Marshal(), key.Marshal()) {
				return &ssh.Permissions{}, nil
			}
		}
		return nil, errors.New("unauthorized key")
	}}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &SSHGitServer{ln: ln, root: s.root, hostKey: hostKey, config: cfg, conns: map[net.Conn]struct{}{}}
	srv.wg.Add(1)
	go srv.accept()
	t.Cleanup(srv.close)
	return srv
}

// URL of the repository named name, for the user git.
func (s *SSHGitServer) URL(name string) string {
	return "ssh://git@" + s.ln.Addr().String() + "/" + name + ".git"
}

// KnownHosts is a known_hosts line for the server's host key.
func (s *SSHGitServer) KnownHosts() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.ln.Addr().String())}, s.hostKey.PublicKey()) + "\n"
}

func (s *SSHGitServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *SSHGitServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			_ = c.Close()
		}()
	}
}

func (s *SSHGitServer) serve(c net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.session(ch, chReqs)
		}()
	}
	wg.Wait()
}

// session waits for an exec request of git-upload-pack and runs it.
func (s *SSHGitServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(req.Type == "env", nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
			_ = req.Reply(false, nil)
			return
		}
		repo, err := s.repository(payload.Command)
		if err != nil {
			_ = req.Reply(true, nil)
			fmt.Fprintf(ch.Stderr(), "%v\n", err)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{128}))
			return
		}
		_ = req.Reply(true, nil)
		cmd := exec.Command("git", "upload-pack", repo)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 1
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = uint32(exit.ExitCode())
			}
		}
		_ = ch.CloseWrite()
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}

// repository maps "git-upload-pack '/name.git'" to the bare repository,
// refusing other commands and paths outside the server's root.
func (s *SSHGitServer) repository(command string) (string, error) {
	name, arg, ok := strings.Cut(command, " ")
	if !ok || name != "git-upload-pack" {
		return "", fmt.Errorf("only git-upload-pack is served, not %q", name)
	}
	p := path.Clean("/" + strings.Trim(strings.TrimSpace(arg), "'\""))
	if p == "/" {
		return "", errors.New("no repository named")
	}
	return filepath.Join(s.root, filepath.FromSlash(p)), nil
}
