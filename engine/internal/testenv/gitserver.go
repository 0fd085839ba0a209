package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// GitServer is a real git remote: bare repositories served over smart HTTP
// by `git http-backend`, optionally behind basic auth, a bearer token or
// TLS (with client certificates), recording every request it serves.
type GitServer struct {
	root string
	srv  *httptest.Server
	// ca is the PEM of the server certificate's issuer; clientCert and
	// clientKey a certificate it accepts, when it asks for one.
	ca, clientCert, clientKey string

	mu       sync.Mutex
	requests []ServedRequest
}

// ServedRequest is one request a GitServer received.
type ServedRequest struct {
	Method, Path string
	// Authorization is the request's Authorization header.
	Authorization string
}

// GitServerOption configures a GitServer.
type GitServerOption func(*gitServerConfig)

type gitServerConfig struct {
	user, password, token string
	tls, clientCert       bool
}

// GitBasicAuth answers only requests with this user and password.
func GitBasicAuth(user, password string) GitServerOption {
	return func(c *gitServerConfig) { c.user, c.password = user, password }
}

// GitBearerToken answers only requests with this bearer token.
func GitBearerToken(token string) GitServerOption {
	return func(c *gitServerConfig) { c.token = token }
}

// GitTLS serves HTTPS with a certificate for 127.0.0.1 issued by the CA
// that GitServer.CA returns. With clientCert, it also requires a client
// certificate, such as GitServer.ClientCert.
func GitTLS(clientCert bool) GitServerOption {
	return func(c *gitServerConfig) { c.tls, c.clientCert = true, clientCert }
}

// NewGitServer starts a git server for the test; it stops when the test ends.
func NewGitServer(t testing.TB, opts ...GitServerOption) *GitServer {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed for this test: %v", err)
	}
	var cfg gitServerConfig
	for _, o := range opts {
		o(&cfg)
	}
	s := &GitServer{root: t.TempDir()}
	backend := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, ServedRequest{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization")})
		s.mu.Unlock()
		if !cfg.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	// Refused TLS handshakes are what some tests are about: keep them out
	// of the test output.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if !cfg.tls {
		s.srv.Start()
	} else {
		if cfg.clientCert {
			pool := x509.NewCertPool()
			s.clientCert, s.clientKey = newClientCert(t, pool)
			s.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
		}
		s.srv.StartTLS()
		s.ca = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw}))
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (c gitServerConfig) authorized(r *http.Request) bool {
	switch {
	case c.token != "":
		return r.Header.Get("Authorization") == "Bearer "+c.token
	case c.user != "":
		u, p, ok := r.BasicAuth()
		return ok && u == c.user && p == c.password
	}
	return true
}

// URL of the repository named name.
func (s *GitServer) URL(name string) string { return s.srv.URL + "/" + name + ".git" }

// CA is the PEM certificate that the server's TLS certificate chains to;
// empty without TLS.
func (s *GitServer) CA() string { return s.ca }

// ClientCert is a PEM certificate and key the server accepts; empty unless
// it asks for client certificates.
func (s *GitServer) ClientCert() (cert, key string) { return s.clientCert, s.clientKey }

// Requests returns the requests served so far, in order.
func (s *GitServer) Requests() []ServedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// newClientCert makes a CA, adds it to pool, and returns a client
// certificate it issued, with its key, in PEM.
func newClientCert(t testing.TB, pool *x509.CertPool) (string, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "git client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	pool.AddCert(ca)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "git client"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

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
