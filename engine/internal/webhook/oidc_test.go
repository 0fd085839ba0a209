package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/go-logr/logr"
)

// testIssuer is an OpenID provider on a local server: a discovery document
// and a key set with testKeys()[0] under testKid.
type testIssuer struct {
	srv       *httptest.Server
	issuer    string // what the discovery document claims
	fetches   atomic.Int32
	down      atomic.Bool
	jwksOwner string // overrides jwks_uri when set
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		iss.fetches.Add(1)
		if iss.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		jwks := iss.srv.URL + "/keys"
		if iss.jwksOwner != "" {
			jwks = iss.jwksOwner
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.issuer, "jwks_uri": jwks})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{jwkOf(testKid, &testKeys()[0].PublicKey)}})
	})
	iss.srv = httptest.NewServer(mux)
	iss.issuer = iss.srv.URL
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *testIssuer) token(edit func(map[string]any)) string {
	c := map[string]any{
		"iss": iss.srv.URL, "aud": "flux", "sub": "repo:my-org/app:ref:refs/heads/main",
		"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(),
		"repository": "my-org/app", "environment": "production", "run_attempt": 1,
	}
	if edit != nil {
		edit(c)
	}
	return idToken(testKeys()[0], rs256(), c)
}

func (iss *testIssuer) provider() notificationv1.OIDCProvider {
	return notificationv1.OIDCProvider{
		IssuerURL: iss.srv.URL,
		Audience:  "flux",
		Validations: []notificationv1.OIDCValidation{
			{Expression: `claims.repository == 'my-org/app'`, Message: "wrong repository"},
			{Expression: `claims.environment == 'production'`, Message: "wrong environment"},
		},
	}
}

func TestGenericOIDC(t *testing.T) {
	iss := newTestIssuer(t)
	other := newTestIssuer(t)
	withVars := iss.provider()
	withVars.Variables = []notificationv1.OIDCVariable{
		{Name: "allowed", Expression: `['my-org/app', 'my-org/lib']`},
		{Name: "owner", Expression: `claims.repository.split('/')[0]`},
	}
	withVars.Validations = []notificationv1.OIDCValidation{
		{Expression: `claims.repository in vars.allowed`, Message: "repository not allowed"},
		{Expression: `vars.owner == 'my-org'`, Message: "wrong owner"},
		{Expression: `claims.run_attempt < 3`, Message: "too many attempts"},
	}
	defaultAud := iss.provider()
	defaultAud.Audience = ""
	tests := []struct {
		name      string
		providers []notificationv1.OIDCProvider
		auth      string
		code      int
		msg       string // in the response body
	}{
		{"valid", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + iss.token(nil), 200, "ok"},
		{"second provider", []notificationv1.OIDCProvider{other.provider(), iss.provider()}, "Bearer " + iss.token(nil), 200, "ok"},
		{"variables", []notificationv1.OIDCProvider{withVars}, "Bearer " + iss.token(nil), 200, "ok"},
		{"default audience", []notificationv1.OIDCProvider{defaultAud}, "Bearer " + iss.token(func(c map[string]any) { c["aud"] = []string{"x", notificationv1.DefaultOIDCAudience} }), 200, "ok"},
		{"no header", []notificationv1.OIDCProvider{iss.provider()}, "", 401, "Authorization header is missing"},
		{"basic auth", []notificationv1.OIDCProvider{iss.provider()}, "Basic dTpw", 401, "Authorization header is missing"},
		{"not a jwt", []notificationv1.OIDCProvider{iss.provider()}, "Bearer nope", 401, "not a JWT"},
		{"unknown issuer", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + other.token(nil), 401, "no oidcProvider is configured for issuer"},
		{"wrong audience", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + iss.token(func(c map[string]any) { c["aud"] = "someone-else" }), 401, `audience does not contain "flux"`},
		{"default audience not met", []notificationv1.OIDCProvider{defaultAud}, "Bearer " + iss.token(nil), 401, `"notification-controller"`},
		{"expired", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + iss.token(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, "unauthorized"},
		{"validations aggregated", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + iss.token(func(c map[string]any) {
			c["repository"], c["environment"] = "evil/app", "staging"
		}), 401, "wrong repository; wrong environment"},
		{"missing claim fails its validation", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + iss.token(func(c map[string]any) { delete(c, "environment") }), 401, "wrong environment"},
		{"variable validation", []notificationv1.OIDCProvider{withVars}, "Bearer " + iss.token(func(c map[string]any) { c["run_attempt"] = 7 }), 401, "too many attempts"},
		{"signed by another key", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + idToken(testKeys()[1], rs256(), map[string]any{
			"iss": iss.srv.URL, "aud": "flux", "exp": time.Now().Add(time.Minute).Unix(), "repository": "my-org/app", "environment": "production",
		}), 401, "unauthorized"},
		{"alg none", []notificationv1.OIDCProvider{iss.provider()}, "Bearer " + b64(map[string]string{"alg": "none", "kid": testKid}) + "." + b64(map[string]any{
			"iss": iss.srv.URL, "aud": "flux", "exp": time.Now().Add(time.Minute).Unix(), "repository": "my-org/app", "environment": "production",
		}) + ".", 401, "unauthorized"},
		{"no providers", nil, "Bearer " + iss.token(nil), 401, "unauthorized"},
	}
	h, err := NewHandler(
		func(_ context.Context, p string) (*Target, error) { return nil, nil },
		func(context.Context, *Target) error { return nil },
		logr.Discard(), nil, WithGoogleKeys(testKeySource))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var triggered *Target
			h.lookup = func(context.Context, string) (*Target, error) {
				return &Target{Namespace: "ns", Name: "o", Type: notificationv1.GenericOIDCReceiver, OIDCProviders: tt.providers}, nil
			}
			h.trigger = func(_ context.Context, tg *Target) error { triggered = tg; return nil }
			req := httptest.NewRequest(http.MethodPost, "/hook/x", bytes.NewReader([]byte(`{}`)))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.msg) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.code, tt.msg)
			}
			if (triggered != nil) != (tt.code == 200) {
				t.Fatalf("triggered: %v", triggered != nil)
			}
			if triggered != nil && triggered.Claims["repository"] != "my-org/app" {
				t.Fatalf("claims not passed to the trigger: %v", triggered.Claims)
			}
		})
	}
	if n := iss.fetches.Load(); n != 1 {
		t.Fatalf("the discovery document was fetched %d times, want once for all requests", n)
	}
}

func TestGenericOIDCIssuerTrouble(t *testing.T) {
	tests := []struct {
		name  string
		setup func(iss *testIssuer)
		code  int
	}{
		{"discovery down", func(iss *testIssuer) { iss.down.Store(true) }, 503},
		{"discovery names another issuer", func(iss *testIssuer) { iss.issuer = "https://evil.example.com" }, 503},
		{"jwks_uri not http(s)", func(iss *testIssuer) { iss.jwksOwner = "ftp://x/keys" }, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newTestIssuer(t)
			tt.setup(iss)
			v := newOIDCVerifier(http.DefaultClient)
			req := httptest.NewRequest(http.MethodPost, "/hook/x", nil)
			req.Header.Set("Authorization", "Bearer "+iss.token(nil))
			_, err := v.verify(req, nil, &Target{OIDCProviders: []notificationv1.OIDCProvider{iss.provider()}})
			if err == nil {
				t.Fatal("verified a token whose keys cannot be discovered")
			}
			h, _ := NewHandler(func(context.Context, string) (*Target, error) {
				return &Target{Type: notificationv1.GenericOIDCReceiver, OIDCProviders: []notificationv1.OIDCProvider{iss.provider()}}, nil
			}, func(context.Context, *Target) error { t.Fatal("triggered"); return nil }, logr.Discard(), nil, WithGoogleKeys(testKeySource))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("got %d, want %d", rec.Code, tt.code)
			}
			// A second request inside a minute does not fetch again.
			before := iss.fetches.Load()
			h.ServeHTTP(httptest.NewRecorder(), req)
			if iss.fetches.Load() != before {
				t.Fatal("a failing issuer is fetched on every request")
			}
		})
	}
}

func TestValidateOIDCProvider(t *testing.T) {
	ok := notificationv1.OIDCProvider{IssuerURL: "https://token.actions.githubusercontent.com",
		Variables:   []notificationv1.OIDCVariable{{Name: "org", Expression: `claims.repository_owner`}},
		Validations: []notificationv1.OIDCValidation{{Expression: `vars.org == 'my-org'`, Message: "m"}}}
	if err := ValidateOIDCProvider(ok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(p *notificationv1.OIDCProvider)
		want string
	}{
		{"syntax", func(p *notificationv1.OIDCProvider) { p.Validations[0].Expression = `claims.(` }, "validations[0]"},
		{"not boolean", func(p *notificationv1.OIDCProvider) { p.Validations[0].Expression = `'yes'` }, "not bool"},
		{"unknown variable", func(p *notificationv1.OIDCProvider) { p.Validations[0].Expression = `request.x == 1` }, "undeclared reference"},
		{"bad variable", func(p *notificationv1.OIDCProvider) { p.Variables[0].Expression = `claims[` }, "variables[0] (org)"},
		{"repeated variable", func(p *notificationv1.OIDCProvider) { p.Variables = append(p.Variables, p.Variables[0]) }, "repeated"},
		{"no validations", func(p *notificationv1.OIDCProvider) { p.Validations = nil }, "no validations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			p.Variables = append([]notificationv1.OIDCVariable(nil), ok.Variables...)
			p.Validations = append([]notificationv1.OIDCValidation(nil), ok.Validations...)
			tt.edit(&p)
			err := ValidateOIDCProvider(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
