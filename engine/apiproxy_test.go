package engine

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// apiProxy stands between an engine process and the test API server, so
// a test can count the engine's requests, answer some of them itself, and
// take the API server away and bring it back. The engine reaches it over
// plain HTTP; it forwards with the administrator's credentials.
type apiProxy struct {
	t    testing.TB
	addr string
	rp   *httputil.ReverseProxy

	mu       sync.Mutex
	srv      *http.Server
	conns    map[net.Conn]struct{}
	requests int
	// intercept, when set, sees each request first; it may hold it, and
	// it answers it with a 409 Conflict instead of forwarding it when it
	// returns true.
	intercept func(r *http.Request) bool
}

func newAPIProxy(t testing.TB) *apiProxy {
	t.Helper()
	rt, err := rest.TransportFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	up, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := &apiProxy{t: t, addr: freeAddr(t), conns: map[net.Conn]struct{}{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(up) },
		Transport:     rt,
		FlushInterval: -1, // watches stream
		// A request the engine gave up on is not an error of the proxy.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *apiProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests++
	f := p.intercept
	p.mu.Unlock()
	if f != nil && f(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Conflict","code":409,` +
			`"message":"the object has been modified; please apply your changes to the latest version and try again"}`))
		return
	}
	p.rp.ServeHTTP(w, r)
}

// setIntercept replaces the interception function.
func (p *apiProxy) setIntercept(f func(r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.intercept = f
}

// count is the number of requests received so far.
func (p *apiProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// start listens again on the same address.
func (p *apiProxy) start() {
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment after stop
		if l, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("api proxy: %v", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(p.conns, c)
			}
		}}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.t.Errorf("api proxy: %v", err)
		}
	}()
}

// stop closes the listener and every open connection, watches included:
// to the engine the API server is gone.
func (p *apiProxy) stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}
}

// kubeconfig writes a kubeconfig that reaches the API server through p.
func (p *apiProxy) kubeconfig(t testing.TB) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: "http://" + p.addr}
	cfg.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy"}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(t.TempDir(), "kubeconfig-proxy")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
