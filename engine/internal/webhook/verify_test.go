package webhook

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
)

// hookCase is one request to a Receiver and what it must get.
type hookCase struct {
	name    string
	body    []byte
	headers map[string]string
	code    int
	trigger bool
}

// secretHeaders carry a token, a signature or an ID token: never logged.
var secretHeaders = []string{"Authorization", "X-Signature", "X-Hub-Signature", "X-Hub-Signature-256",
	"X-Nexus-Webhook-Signature", "X-Gitlab-Token"}

// runHookCases sends every case to a handler serving target, and checks the
// status, the trigger, and that neither the logs nor the response carry the
// token or a secret header.
func runHookCases(t *testing.T, target Target, cases []hookCase, opts ...Option) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			log := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") },
				funcr.Options{Verbosity: 10})
			triggered := false
			h, err := NewHandler(
				func(context.Context, string) (*Target, error) { tg := target; return &tg, nil },
				func(context.Context, *Target) error { triggered = true; return nil },
				log, nil, opts...)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hook/x", bytes.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("code: got %d, want %d (%s)", rec.Code, tc.code, strings.TrimSpace(rec.Body.String()))
			}
			if triggered != tc.trigger {
				t.Errorf("triggered: got %v, want %v", triggered, tc.trigger)
			}
			t.Log(strings.TrimSpace(logs.String()))
			out := logs.String() + rec.Body.String()
			if len(target.Token) > 0 && strings.Contains(out, string(target.Token)) {
				t.Errorf("the token leaks into the logs or the response:\n%s", out)
			}
			for _, k := range secretHeaders {
				for _, part := range strings.FieldsFunc(tc.headers[k], func(r rune) bool { return r == ' ' || r == '=' || r == '.' }) {
					if len(part) >= 16 && strings.Contains(out, part) {
						t.Errorf("header %s leaks into the logs or the response:\n%s", k, out)
					}
				}
			}
		})
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tamper changes one byte of body, inside a string value.
func tamper(t *testing.T, body []byte) []byte {
	t.Helper()
	i := bytes.Index(body, []byte("podinfo"))
	if i < 0 {
		t.Fatal("nothing to tamper with")
	}
	out := bytes.Clone(body)
	out[i+1] = '0'
	return out
}

func TestBitbucket(t *testing.T) {
	token := []byte("bb-webhook-secret")
	server, cloud := fixture(t, "bitbucket-server-push.json"), fixture(t, "bitbucket-cloud-push.json")
	hdr := func(h func() hash.Hash, algo, event string, body []byte) map[string]string {
		return map[string]string{"X-Hub-Signature": sign(h, algo, token, body), "X-Event-Key": event}
	}
	target := Target{Type: "bitbucket", Token: token, Events: []string{"repo:refs_changed", "repo:push"}}
	runHookCases(t, target, []hookCase{
		{"server push", server, hdr(sha256.New, "sha256", "repo:refs_changed", server), 200, true},
		{"cloud push", cloud, hdr(sha256.New, "sha256", "repo:push", cloud), 200, true},
		{"sha1 signature", server, hdr(sha1.New, "sha1", "repo:refs_changed", server), 200, true},
		{"sha512 signature", server, hdr(sha512.New, "sha512", "repo:refs_changed", server), 200, true},
		{"test connection", []byte(`{"test":true}`), hdr(sha256.New, "sha256", "diagnostics:ping", []byte(`{"test":true}`)), 200, false},
		{"event not listed", server, hdr(sha256.New, "sha256", "pr:opened", server), 200, false},
		{"wrong key", server, map[string]string{"X-Hub-Signature": sign(sha256.New, "sha256", []byte("other"), server), "X-Event-Key": "repo:refs_changed"}, 401, false},
		{"missing signature", cloud, map[string]string{"X-Event-Key": "repo:push"}, 401, false},
		{"wrong algorithm", server, hdr(md5.New, "md5", "repo:refs_changed", server), 401, false},
		{"algorithm mislabelled", server, hdr(sha1.New, "sha256", "repo:refs_changed", server), 401, false},
		{"one byte changed", tamper(t, server), hdr(sha256.New, "sha256", "repo:refs_changed", server), 401, false},
		{"signature not hex", server, map[string]string{"X-Hub-Signature": "sha256=zz", "X-Event-Key": "repo:push"}, 401, false},
	})
	t.Run("no events listed", func(t *testing.T) {
		runHookCases(t, Target{Type: "bitbucket", Token: token}, []hookCase{
			{"any event", server, hdr(sha256.New, "sha256", "repo:modified", server), 200, true},
		})
	})
	t.Run("empty token", func(t *testing.T) {
		runHookCases(t, Target{Type: "bitbucket"}, []hookCase{
			{"signed with nothing", server, map[string]string{"X-Hub-Signature": sign(sha256.New, "sha256", nil, server)}, 401, false},
		})
	})
}

func TestHarbor(t *testing.T) {
	body := fixture(t, "harbor-push.json")
	target := Target{Type: "harbor", Token: []byte("harbor-auth-header-value")}
	auth := func(v string) map[string]string { return map[string]string{"Authorization": v} }
	runHookCases(t, target, []hookCase{
		{"push artifact", body, auth("harbor-auth-header-value"), 200, true},
		{"wrong value", body, auth("harbor-auth-header-valuf"), 401, false},
		{"with a scheme the token lacks", body, auth("Bearer harbor-auth-header-value"), 401, false},
		{"prefix of the token", body, auth("harbor-auth"), 401, false},
		{"missing header", body, nil, 401, false},
	})
	t.Run("token with a scheme", func(t *testing.T) {
		runHookCases(t, Target{Type: "harbor", Token: []byte("Bearer 0a1b2c3d4e5f")}, []hookCase{
			{"same header", body, auth("Bearer 0a1b2c3d4e5f"), 200, true},
		})
	})
	t.Run("empty token", func(t *testing.T) {
		runHookCases(t, Target{Type: "harbor"}, []hookCase{
			{"no header", body, nil, 401, false},
			{"empty header", body, auth(""), 401, false},
		})
	})
}

func TestNexus(t *testing.T) {
	token := []byte("nexus-secret-key")
	body := fixture(t, "nexus-component.json")
	sig := func(h func() hash.Hash, key, b []byte) map[string]string {
		_, hexSig, _ := strings.Cut(sign(h, "", key, b), "=")
		return map[string]string{"X-Nexus-Webhook-Signature": hexSig, "X-Nexus-Webhook-Id": "rm:repository:component"}
	}
	notJSON := []byte("component created")
	runHookCases(t, Target{Type: "nexus", Token: token}, []hookCase{
		{"component created", body, sig(sha1.New, token, body), 200, true},
		{"wrong key", body, sig(sha1.New, []byte("other"), body), 401, false},
		{"missing signature", body, nil, 401, false},
		{"wrong algorithm", body, sig(sha256.New, token, body), 401, false},
		{"prefixed signature", body, map[string]string{"X-Nexus-Webhook-Signature": sign(sha1.New, "sha1", token, body)}, 401, false},
		{"one byte changed", tamper(t, body), sig(sha1.New, token, body), 401, false},
		{"signed body that is not an event", notJSON, sig(sha1.New, token, notJSON), 400, false},
	})
}

func TestGitLabEmptyToken(t *testing.T) {
	runHookCases(t, Target{Type: "gitlab"}, []hookCase{
		{"no header", []byte(`{}`), map[string]string{"X-Gitlab-Event": "Push Hook"}, 401, false},
	})
}
