package gitrepository

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"sync/atomic"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// HTTP(S) remotes authenticate with the basic auth, bearer token or TLS
// client certificate of spec.secretRef and trust the CA of its ca.crt;
// wrong credentials fail the fetch without leaking them.
func TestHTTPAuthentication(t *testing.T) {
	start(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	servers := map[string]*testenv.GitServer{
		"basic":  testenv.NewGitServer(t, testenv.GitBasicAuth("git", "hunter2-basic")),
		"bearer": testenv.NewGitServer(t, testenv.GitBearerToken("hunter2-token")),
		"tls":    testenv.NewGitServer(t, testenv.GitTLS(false)),
		"mtls":   testenv.NewGitServer(t, testenv.GitTLS(true)),
		"mixed":  testenv.NewGitServer(t, testenv.GitTLS(true), testenv.GitBasicAuth("git", "hunter2-mixed")),
	}
	shas := map[string]string{}
	for name, s := range servers {
		shas[name] = s.NewRepo(t, "app").Commit("one", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"})
	}
	cert, key := servers["mtls"].ClientCert()
	mixedCert, mixedKey := servers["mixed"].ClientCert()
	secrets := map[string]map[string]string{
		"basic":        {"username": "git", "password": "hunter2-basic"},
		"basic-wrong":  {"username": "git", "password": "hunter2-nope"},
		"bearer":       {"bearerToken": "hunter2-token"},
		"bearer-wrong": {"bearerToken": "hunter2-nope"},
		"ca":           {"ca.crt": servers["tls"].CA()},
		"mtls":         {"ca.crt": servers["mtls"].CA(), "tls.crt": cert, "tls.key": key},
		"mtls-no-cert": {"ca.crt": servers["mtls"].CA()},
		"mtls-foreign": {"ca.crt": servers["mtls"].CA(), "tls.crt": mixedCert, "tls.key": mixedKey},
		"mixed":        {"ca.crt": servers["mixed"].CA(), "tls.crt": mixedCert, "tls.key": mixedKey, "username": "git", "password": "hunter2-mixed"},
		"bad-key":      {"ca.crt": servers["mtls"].CA(), "tls.crt": cert, "tls.key": "not a key"},
	}
	for name, data := range secrets {
		NewWithT(t).Expect(env.Client.Create(ctx, testenv.Secret(ns, name, data))).To(Succeed())
	}
	tests := []struct {
		name, server, secret string
		msg                  string // empty: ready
	}{
		{"basic", "basic", "basic", ""},
		{"basic-wrong", "basic", "basic-wrong", "authentication required"},
		{"basic-none", "basic", "", "authentication required"},
		{"bearer", "bearer", "bearer", ""},
		{"bearer-wrong", "bearer", "bearer-wrong", "authentication required"},
		{"tls-ca", "tls", "ca", ""},
		{"tls-unknown-ca", "tls", "", "certificate signed by unknown authority"},
		{"mtls", "mtls", "mtls", ""},
		{"mtls-no-cert", "mtls", "mtls-no-cert", "certificate required"},
		{"mtls-foreign-cert", "mtls", "mtls-foreign", "unknown certificate authority"},
		{"mtls-bad-key", "mtls", "bad-key", "failed to find any PEM data in key input"},
		{"mtls-and-basic", "mixed", "mixed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, tt.name, servers[tt.server].URL("app"), func(o *sourcev1.GitRepository) {
				if tt.secret != "" {
					o.Spec.SecretRef = &meta.LocalObjectReference{Name: tt.secret}
				}
			})
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			key := client.ObjectKeyFromObject(obj)
			if tt.msg == "" {
				got := waitReady(t, key, "main@sha1:"+shas[tt.server])
				g.Expect(testenv.TarNames(t, fetch(t, got.Status.Artifact.URL))).To(ContainElement("deploy/cm.yaml"))
				return
			}
			got := waitFailed(t, key, sourcev1.GitOperationFailedReason)
			g.Expect(conditions.IsTrue(got, sourcev1.FetchFailedCondition)).To(BeTrue())
			msg := conditions.GetMessage(got, meta.ReadyCondition)
			g.Expect(msg).To(ContainSubstring(tt.msg))
			g.Expect(msg).NotTo(ContainSubstring("hunter2"))
			g.Expect(got.Status.Artifact).To(BeNil())
		})
	}
}

// spec.proxySecretRef sends every request through the proxy, with the
// proxy's credentials; a proxy that refuses them fails the fetch.
func TestProxy(t *testing.T) {
	g := NewWithT(t)
	start(t)
	git := testenv.NewGitServer(t, testenv.GitBasicAuth("git", "hunter2-git"))
	sha := git.NewRepo(t, "app").Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	var proxied atomic.Int32
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("proxy:hunter2-proxy"))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != want || !r.URL.IsAbs() {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		proxied.Add(1)
		(&httputil.ReverseProxy{Rewrite: func(p *httputil.ProxyRequest) { p.Out.URL = p.In.URL }}).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	ns := env.Namespace(t)
	ctx := context.Background()
	for name, data := range map[string]map[string]string{
		"creds":       {"username": "git", "password": "hunter2-git"},
		"proxy":       {"address": proxy.URL, "username": "proxy", "password": "hunter2-proxy"},
		"proxy-wrong": {"address": proxy.URL, "username": "proxy", "password": "hunter2-nope"},
		"proxy-bad":   {"address": "not a url"},
	} {
		g.Expect(env.Client.Create(ctx, testenv.Secret(ns, name, data))).To(Succeed())
	}
	with := func(proxySecret string) func(*sourcev1.GitRepository) {
		return func(o *sourcev1.GitRepository) {
			o.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
			o.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: proxySecret}
		}
	}
	good := testenv.GitRepository(ns, "good", git.URL("app"), with("proxy"))
	wrong := testenv.GitRepository(ns, "wrong", git.URL("app"), with("proxy-wrong"))
	bad := testenv.GitRepository(ns, "bad", git.URL("app"), with("proxy-bad"))
	for _, o := range []*sourcev1.GitRepository{good, wrong, bad} {
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
	}
	waitReady(t, client.ObjectKeyFromObject(good), "main@sha1:"+sha)
	g.Expect(proxied.Load()).To(BeNumerically(">=", 2), "the ls-remote and the clone go through the proxy")

	got := waitFailed(t, client.ObjectKeyFromObject(wrong), sourcev1.GitOperationFailedReason)
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("status code: 407"))
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).NotTo(ContainSubstring("hunter2"))
	got = waitFailed(t, client.ObjectKeyFromObject(bad), sourcev1.AuthenticationFailedReason)
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("'address' is not a URL"))
}
