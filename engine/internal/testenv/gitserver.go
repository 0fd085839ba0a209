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
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weir-gitops/weir/conformance/gitserver"
)

// GitServer is a real git remote: bare repositories served over smart HTTP
// by `git http-backend` (package gitserver), bound to a test, optionally
// behind basic auth, a bearer token or TLS (with client certificates),
// recording every request it serves.
type GitServer struct {
	root string
	*gitserver.Server
	srv *httptest.Server
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
	var cfg gitServerConfig
	for _, o := range opts {
		o(&cfg)
	}
	root := t.TempDir()
	gs, err := gitserver.Start(gitserver.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gs.Close() })
	s := &GitServer{root: root, Server: gs}
	backend := gs.Handler()
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

// Stop takes the server away: every later request fails to connect.
func (s *GitServer) Stop() { s.srv.Close() }

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
