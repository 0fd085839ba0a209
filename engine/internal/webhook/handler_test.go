package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func sign(h func() hash.Hash, algo string, token, body []byte) string {
	m := hmac.New(h, token)
	m.Write(body)
	return algo + "=" + hex.EncodeToString(m.Sum(nil))
}

func TestHandler(t *testing.T) {
	token := []byte("s3cret")
	body := []byte(`{"ref":"refs/heads/main"}`)
	targets := map[string]*Target{
		"/hook/generic":   {Namespace: "ns", Name: "g", Type: "generic", Token: token},
		"/hook/hmac":      {Namespace: "ns", Name: "h", Type: "generic-hmac", Token: token},
		"/hook/github":    {Namespace: "ns", Name: "gh", Type: "github", Token: token, Events: []string{"push"}},
		"/hook/gitlab":    {Namespace: "ns", Name: "gl", Type: "gitlab", Token: token, Events: []string{"Push Hook"}},
		"/hook/suspended": {Namespace: "ns", Name: "s", Type: "generic", Token: token, Suspended: true},
		"/hook/oidc":      {Namespace: "ns", Name: "o", Type: "generic-oidc"},
		"/hook/unknown":   {Namespace: "ns", Name: "u", Type: "telepathy"},
	}
	tests := []struct {
		name    string
		method  string
		path    string
		body    []byte
		headers map[string]string
		code    int
		trigger bool
	}{
		{"generic", "POST", "/hook/generic", body, nil, 200, true},
		{"unknown path", "POST", "/hook/nope", body, nil, 404, false},
		{"not a hook", "POST", "/other", body, nil, 404, false},
		{"get refused", "GET", "/hook/generic", nil, nil, 405, false},
		{"too large", "POST", "/hook/generic", bytes.Repeat([]byte("a"), MaxBody+1), nil, 413, false},
		{"suspended", "POST", "/hook/suspended", body, nil, 503, false},
		{"hmac sha256", "POST", "/hook/hmac", body, map[string]string{"X-Signature": sign(sha256.New, "sha256", token, body)}, 200, true},
		{"hmac sha1", "POST", "/hook/hmac", body, map[string]string{"X-Signature": sign(sha1.New, "sha1", token, body)}, 200, true},
		{"hmac wrong key", "POST", "/hook/hmac", body, map[string]string{"X-Signature": sign(sha256.New, "sha256", []byte("x"), body)}, 401, false},
		{"hmac missing", "POST", "/hook/hmac", body, nil, 401, false},
		{"hmac bad algo", "POST", "/hook/hmac", body, map[string]string{"X-Signature": "md5=00"}, 401, false},
		{"github push", "POST", "/hook/github", body, map[string]string{"X-Hub-Signature-256": sign(sha256.New, "sha256", token, body), "X-GitHub-Event": "push"}, 200, true},
		{"github ping", "POST", "/hook/github", body, map[string]string{"X-Hub-Signature-256": sign(sha256.New, "sha256", token, body), "X-GitHub-Event": "ping"}, 200, false},
		{"github filtered", "POST", "/hook/github", body, map[string]string{"X-Hub-Signature-256": sign(sha256.New, "sha256", token, body), "X-GitHub-Event": "issues"}, 200, false},
		{"github bad signature", "POST", "/hook/github", body, map[string]string{"X-Hub-Signature-256": "sha256=00", "X-GitHub-Event": "push"}, 401, false},
		{"gitlab push", "POST", "/hook/gitlab", body, map[string]string{"X-Gitlab-Token": "s3cret", "X-Gitlab-Event": "Push Hook"}, 200, true},
		{"gitlab wrong token", "POST", "/hook/gitlab", body, map[string]string{"X-Gitlab-Token": "nope", "X-Gitlab-Event": "Push Hook"}, 401, false},
		{"gitlab filtered", "POST", "/hook/gitlab", body, map[string]string{"X-Gitlab-Token": "s3cret", "X-Gitlab-Event": "Tag Push Hook"}, 200, false},
		{"oidc without providers", "POST", "/hook/oidc", body, nil, 401, false},
		{"unknown type", "POST", "/hook/unknown", body, nil, 501, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var triggered *Target
			reg := prometheus.NewRegistry()
			h, err := NewHandler(
				func(_ context.Context, p string) (*Target, error) { return targets[p], nil },
				func(_ context.Context, tg *Target) error { triggered = tg; return nil },
				logr.Discard(), reg)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tt.method, tt.path, bytes.NewReader(tt.body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			NewServer("", h).Handler.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("code: got %d, want %d (%s)", rec.Code, tt.code, rec.Body.String())
			}
			if (triggered != nil) != tt.trigger {
				t.Fatalf("triggered: got %v, want %v", triggered != nil, tt.trigger)
			}
			if strings.Contains(rec.Body.String(), "s3cret") {
				t.Fatal("response leaks the token")
			}
			if tt.path != "/other" {
				if n := testutil.CollectAndCount(reg, "weir_receiver_requests_total"); n != 1 {
					t.Fatalf("want one metric series, got %d", n)
				}
			}
		})
	}
}

// FuzzHandler sends arbitrary bodies and headers to a Receiver of every
// type: the handler must not fail on its side, and must not trigger unless
// the request carries the right credential.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{}`), "sha256=00", "push", "s3cret")
	f.Add([]byte{}, "", "", "")
	for _, name := range []string{"bitbucket-server-push.json", "dockerhub-push.json", "quay-push.json",
		"acr-push.json", "nexus-component.json", "cdevents-change-merged.json", "gcr-push.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, sign(sha256.New, "sha256", []byte("s3cret"), b), "push", "Bearer e30.e30.")
	}
	token := []byte("s3cret")
	keys := func(context.Context, string) (*rsa.PublicKey, error) { return nil, ErrUnauthorized }
	f.Fuzz(func(t *testing.T, body []byte, sig, event, secret string) {
		for typ := range Verifiers(keys, http.DefaultClient) {
			triggered := false
			h, err := NewHandler(
				func(context.Context, string) (*Target, error) {
					return &Target{Type: typ, Token: token, Events: []string{"push"}, Email: "a@example.com", Audience: "x"}, nil
				},
				func(context.Context, *Target) error { triggered = true; return nil },
				logr.Discard(), nil, WithGoogleKeys(keys))
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hook/x", bytes.NewReader(body))
			for _, k := range []string{"X-Signature", "X-Hub-Signature-256", "X-Hub-Signature", "X-Nexus-Webhook-Signature"} {
				req.Header.Set(k, sig)
			}
			for _, k := range []string{"X-GitHub-Event", "X-Gitlab-Event", "X-Event-Key", "Ce-Type"} {
				req.Header.Set(k, event)
			}
			req.Header.Set("X-Gitlab-Token", secret)
			req.Header.Set("Authorization", secret)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: code %d", typ, rec.Code)
			}
			if !triggered {
				continue
			}
			switch typ {
			case "gitlab", "harbor":
				if secret != string(token) {
					t.Fatalf("%s accepted a wrong token", typ)
				}
			case "generic-hmac", "github", "bitbucket":
				if !fuzzSignatureValid(sig, body, token) {
					t.Fatalf("%s accepted a wrong signature", typ)
				}
			case "nexus":
				if !fuzzSignatureValid("sha1="+sig, body, token) {
					t.Fatalf("%s accepted a wrong signature", typ)
				}
			case "gcr", "generic-oidc":
				t.Fatalf("%s accepted a token no key signs", typ)
			}
		}
	})
}

// fuzzSignatureValid recomputes "<algo>=<hex>" apart from checkSignature.
func fuzzSignatureValid(sig string, body, token []byte) bool {
	algos := map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}
	algo, hexSig, _ := strings.Cut(sig, "=")
	h, ok := algos[algo]
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return false
	}
	m := hmac.New(h, token)
	m.Write(body)
	return bytes.Equal(got, m.Sum(nil))
}
