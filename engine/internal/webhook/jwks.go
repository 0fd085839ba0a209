package webhook

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// jwksMinAge is the least time a fetched key set is kept, and the least
	// time between two fetches: a token naming an unknown kid cannot make
	// this process fetch more often than that.
	jwksMinAge = time.Minute
	// jwksDefaultAge is how long a key set without a Cache-Control max-age
	// is kept; jwksMaxAge caps what the server asks for.
	jwksDefaultAge = time.Hour
	jwksMaxAge     = 24 * time.Hour
	// jwksMaxBody is the largest key set document read.
	jwksMaxBody = 1 << 20
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// JWKS fetches a JSON Web Key Set over HTTPS and keeps its RSA signing keys
// for as long as the response's Cache-Control allows. Its Key method is a
// KeySource.
type JWKS struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	expires time.Time // the keys are fresh until then
	fetched time.Time // the last fetch attempt
	err     error     // the last fetch error
}

// NewJWKS returns a key source for the key set at rawURL, which must be
// https, fetched with client.
func NewJWKS(rawURL string, client *http.Client) (*JWKS, error) {
	return newJWKS(rawURL, client, time.Now, false)
}

// newJWKS is NewJWKS that also takes plain http when allowHTTP: an OIDC
// issuer that is itself served over http publishes its keys that way.
func newJWKS(rawURL string, client *http.Client, now func() time.Time, allowHTTP bool) (*JWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && (!allowHTTP || u.Scheme != "http")) {
		return nil, fmt.Errorf("key set URL %q is not an https URL", rawURL)
	}
	if client == nil {
		return nil, errors.New("key set client is nil")
	}
	return &JWKS{url: rawURL, client: client, now: now}, nil
}

// Key returns the key kid names, fetching the key set when it is stale or
// does not know kid.
func (j *JWKS) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	if k, ok := j.keys[kid]; ok && now.Before(j.expires) {
		return k, nil
	}
	if now.Sub(j.fetched) >= jwksMinAge {
		// The fetch serves every request waiting on the lock: the one that
		// started it must not cancel it by going away. The client's timeout
		// bounds it.
		j.fetched = now
		j.err = j.fetch(context.WithoutCancel(ctx), now)
	}
	if !now.Before(j.expires) {
		return nil, fmt.Errorf("%w: fetching the key set: %w", ErrUnavailable, j.err)
	}
	if k, ok := j.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: the key set has no key %q", ErrUnauthorized, kid)
}

func (j *JWKS) fetch(ctx context.Context, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", j.url, resp.Status)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, jwksMaxBody)).Decode(&set); err != nil {
		return fmt.Errorf("decoding the key set: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if pub, ok := k.rsaSigningKey(); ok {
			keys[k.Kid] = pub
		}
	}
	if len(keys) == 0 {
		return errors.New("the key set has no RSA signing key")
	}
	j.keys = keys
	j.expires = now.Add(maxAge(resp.Header.Get("Cache-Control")))
	return nil
}

// jwk is one JSON Web Key (RFC 7517), as far as RSA signing keys go.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (k jwk) rsaSigningKey() (*rsa.PublicKey, bool) {
	if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
		return nil, false
	}
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, false
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, false
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
		return nil, false
	}
	return pub, true
}

// maxAge is how long a response may be kept by its Cache-Control header,
// within [jwksMinAge, jwksMaxAge].
func maxAge(cacheControl string) time.Duration {
	age := jwksDefaultAge
	for d := range strings.SplitSeq(cacheControl, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), "=")
		if !strings.EqualFold(name, "max-age") {
			continue
		}
		if s, err := strconv.Atoi(value); err == nil {
			age = time.Duration(min(max(s, 0), int(jwksMaxAge/time.Second))) * time.Second
		}
	}
	return min(max(age, jwksMinAge), jwksMaxAge)
}
