package webhook

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
)

// discoveryMaxBody is the largest OpenID discovery document read.
const discoveryMaxBody = 1 << 20

// maxIssuers bounds the issuers whose discovery and keys are kept: the set
// comes from Receiver specs, so it only grows past this by misuse, and then
// the cache starts over.
const maxIssuers = 256

// oidcVerifier verifies generic-oidc requests: a bearer ID token from one of
// the Receiver's providers, checked against the provider's published keys,
// then the provider's CEL variables and validations over the token claims.
type oidcVerifier struct {
	client *http.Client
	now    func() time.Time
	rules  *ruleCache

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

func newOIDCVerifier(client *http.Client) *oidcVerifier {
	return &oidcVerifier{client: client, now: time.Now, rules: newRuleCache(), issuers: map[string]*issuerKeys{}}
}

func (v *oidcVerifier) verify(r *http.Request, _ []byte, t *Target) (Verdict, error) {
	if len(t.OIDCProviders) == 0 {
		return Verdict{}, fmt.Errorf("%w: the receiver has no oidcProviders", ErrUnauthorized)
	}
	raw, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return Verdict{}, publicRefusal("the Authorization header is missing or is not a bearer token")
	}
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return Verdict{}, publicRefusal("the bearer token is not a JWT with an iss claim")
	}
	var p *notificationv1.OIDCProvider
	for i := range t.OIDCProviders {
		if t.OIDCProviders[i].IssuerURL == iss {
			p = &t.OIDCProviders[i]
			break
		}
	}
	if p == nil {
		return Verdict{}, publicRefusal(fmt.Sprintf("no oidcProvider is configured for issuer %q", iss))
	}
	payload, c, err := verifyJWT(r.Context(), raw, v.keys(p.IssuerURL).key, v.now())
	if err != nil {
		return Verdict{}, err
	}
	if c.Issuer != p.IssuerURL {
		return Verdict{}, publicRefusal("the token issuer does not match the provider")
	}
	if !c.Audience.contains(p.GetAudience()) {
		return Verdict{}, publicRefusal(fmt.Sprintf("the token audience does not contain %q", p.GetAudience()))
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return Verdict{}, fmt.Errorf("%w: token claims: %w", ErrUnauthorized, err)
	}
	rules, err := v.rules.compile(p)
	if err != nil {
		// The reconciler refuses such a Receiver; this one changed since.
		return Verdict{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	failed, err := rules.check(r.Context(), claims)
	if err != nil {
		return Verdict{}, publicRefusal(err.Error())
	}
	if len(failed) > 0 {
		return Verdict{}, publicRefusal(strings.Join(failed, "; "))
	}
	return Verdict{Trigger: true, Claims: claims}, nil
}

// keys returns the key source of an issuer, kept across requests.
func (v *oidcVerifier) keys(issuer string) *issuerKeys {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok := v.issuers[issuer]
	if !ok {
		if len(v.issuers) >= maxIssuers {
			v.issuers = map[string]*issuerKeys{}
		}
		k = &issuerKeys{issuer: issuer, client: v.client, now: v.now}
		v.issuers[issuer] = k
	}
	return k
}

// issuerKeys finds an issuer's key set through OpenID discovery
// ({issuer}/.well-known/openid-configuration) and keeps it.
type issuerKeys struct {
	issuer string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	jwks    *JWKS
	tried   time.Time
	lastErr error
}

func (k *issuerKeys) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	if k.jwks == nil && k.now().Sub(k.tried) >= jwksMinAge {
		k.tried = k.now()
		k.jwks, k.lastErr = k.discover(context.WithoutCancel(ctx))
	}
	jwks, err := k.jwks, k.lastErr
	k.mu.Unlock()
	if jwks == nil {
		return nil, fmt.Errorf("%w: discovering the keys of issuer %q: %w", ErrUnavailable, k.issuer, err)
	}
	return jwks.Key(ctx, kid)
}

func (k *issuerKeys) discover(ctx context.Context) (*JWKS, error) {
	u := strings.TrimSuffix(k.issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, discoveryMaxBody)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding the discovery document: %w", err)
	}
	if doc.Issuer != k.issuer {
		return nil, fmt.Errorf("the discovery document names issuer %q", doc.Issuer)
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || ju.Host == "" || (ju.Scheme != "https" && ju.Scheme != "http") {
		return nil, fmt.Errorf("the discovery document has no usable jwks_uri")
	}
	if ju.Scheme == "http" && !strings.HasPrefix(k.issuer, "http://") {
		return nil, errors.New("an https issuer publishes its keys over plain http")
	}
	return newJWKS(doc.JWKSURI, k.client, k.now, true)
}

// unverifiedIssuer reads the iss claim of a compact JWS without verifying
// it, to choose the provider whose keys verify it.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return "", err
	}
	if c.Issuer == "" {
		return "", errors.New("no iss claim")
	}
	return c.Issuer, nil
}

// refusal is a failed authentication whose reason may be told to the
// caller: it names no secret, only what the token lacks.
type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }
func (e *refusal) Unwrap() error { return ErrUnauthorized }

func publicRefusal(msg string) error { return &refusal{msg: msg} }
