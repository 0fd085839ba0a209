package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeySource returns the RSA public key a token's "kid" header names. A kid
// it does not know is an error wrapping ErrUnauthorized; keys it cannot get
// now, one wrapping ErrUnavailable.
type KeySource func(ctx context.Context, kid string) (*rsa.PublicKey, error)

// clockSkew is how far the clocks of a token issuer and of this process may
// disagree when checking a token's validity period.
const clockSkew = 30 * time.Second

// idClaims are the claims of an OpenID Connect ID token that are checked.
type idClaims struct {
	Issuer        string   `json:"iss"`
	Audience      audience `json:"aud"`
	Expiry        float64  `json:"exp"`
	NotBefore     float64  `json:"nbf"`
	IssuedAt      float64  `json:"iat"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
}

// audience is the "aud" claim, a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

func (a audience) contains(want string) bool { return slices.Contains(a, want) }

// verifyIDToken checks a compact JWS signed with RS256 by a key of keys and
// valid at now, and returns its claims. Issuer, audience and subject are
// left to the caller.
func verifyIDToken(ctx context.Context, raw string, keys KeySource, now time.Time) (*idClaims, error) {
	_, c, err := verifyJWT(ctx, raw, keys, now)
	return c, err
}

// verifyJWT is verifyIDToken that also returns the verified claims segment,
// decoded from base64url, for callers that read more than idClaims.
func verifyJWT(ctx context.Context, raw string, keys KeySource, now time.Time) ([]byte, *idClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("%w: the bearer token is not a JWT", ErrUnauthorized)
	}
	var header struct {
		Alg  string   `json:"alg"`
		Kid  string   `json:"kid"`
		Crit []string `json:"crit"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("%w: token header: %w", ErrUnauthorized, err)
	}
	if header.Alg != "RS256" {
		return nil, nil, fmt.Errorf("%w: token algorithm %q is not RS256", ErrUnauthorized, header.Alg)
	}
	if header.Kid == "" || len(header.Crit) > 0 {
		return nil, nil, fmt.Errorf("%w: token header has no kid, or critical extensions", ErrUnauthorized)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: token signature is not base64url", ErrUnauthorized)
	}
	key, err := keys(ctx, header.Kid)
	if err != nil {
		return nil, nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, nil, fmt.Errorf("%w: token signature does not verify", ErrUnauthorized)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: token claims are not base64url", ErrUnauthorized)
	}
	var c idClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, nil, fmt.Errorf("%w: token claims: %w", ErrUnauthorized, err)
	}
	switch {
	case c.Expiry == 0:
		return nil, nil, fmt.Errorf("%w: token has no exp", ErrUnauthorized)
	case now.Add(-clockSkew).After(unixTime(c.Expiry)):
		return nil, nil, fmt.Errorf("%w: token expired", ErrUnauthorized)
	case c.NotBefore != 0 && now.Add(clockSkew).Before(unixTime(c.NotBefore)),
		c.IssuedAt != 0 && now.Add(clockSkew).Before(unixTime(c.IssuedAt)):
		return nil, nil, fmt.Errorf("%w: token is not valid yet", ErrUnauthorized)
	}
	return payload, &c, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("not base64url")
	}
	if !isJSONObject(b) {
		return fmt.Errorf("not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	return nil
}

func unixTime(sec float64) time.Time {
	return time.Unix(int64(sec), 0)
}
