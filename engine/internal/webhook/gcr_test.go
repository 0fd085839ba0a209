package webhook

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKid      = "test-key-1"
	testAudience = "https://weir.example.com/hook/0123abcd"
	testEmail    = "pubsub-push@example.iam.gserviceaccount.com"
)

// testKeys are RSA keys made once for the package's tests.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

// testKeySource knows testKid; the kid "unavailable" stands for a key set
// that cannot be fetched.
func testKeySource(_ context.Context, kid string) (*rsa.PublicKey, error) {
	switch kid {
	case testKid:
		return &testKeys()[0].PublicKey, nil
	case "unavailable":
		return nil, fmt.Errorf("%w: key set down", ErrUnavailable)
	}
	return nil, fmt.Errorf("%w: unknown kid", ErrUnauthorized)
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// idToken signs claims with key, RS256, under the header given.
func idToken(key *rsa.PrivateKey, header, claims map[string]any) string {
	signed := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// pubsubClaims are those of a Pub/Sub push token, changed by edit.
func pubsubClaims(edit func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"aud": testAudience, "azp": "112233445566778899000", "email": testEmail, "email_verified": true,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "iss": "https://accounts.google.com",
		"sub": "112233445566778899000",
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func rs256() map[string]any { return map[string]any{"alg": "RS256", "kid": testKid, "typ": "JWT"} }

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestGCR(t *testing.T) {
	body := fixture(t, "gcr-push.json")
	key, other := testKeys()[0], testKeys()[1]
	valid := idToken(key, rs256(), pubsubClaims(nil))
	claims := func(edit func(map[string]any)) map[string]string {
		return bearer(idToken(key, rs256(), pubsubClaims(edit)))
	}
	header := func(edit func(map[string]any)) map[string]string {
		h := rs256()
		edit(h)
		return bearer(idToken(key, h, pubsubClaims(nil)))
	}
	parts := strings.Split(valid, ".")
	changedClaims := parts[0] + "." + flipChar(parts[1]) + "." + parts[2]
	changedSig := parts[0] + "." + parts[1] + "." + flipChar(parts[2])
	unsignedNone := b64(map[string]any{"alg": "none"}) + "." + parts[1] + "."
	// An HS256 token keyed with the public key: the classic confusion.
	hsSigned := b64(map[string]any{"alg": "HS256", "kid": testKid}) + "." + parts[1]
	mac := hmac.New(sha256.New, x509.MarshalPKCS1PublicKey(&key.PublicKey))
	mac.Write([]byte(hsSigned))
	hsToken := hsSigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	data := func(event string) []byte {
		return []byte(`{"message":{"data":"` + event + `","messageId":"1"},"subscription":"projects/example/subscriptions/weir"}`)
	}
	target := Target{Type: "gcr", Token: []byte("path-token"), Email: testEmail, Audience: testAudience}
	runHookCases(t, target, []hookCase{
		{"push", body, bearer(valid), 200, true},
		{"issuer without scheme", body, claims(func(c map[string]any) { c["iss"] = "accounts.google.com" }), 200, true},
		{"audience list", body, claims(func(c map[string]any) { c["aud"] = []string{"other", testAudience} }), 200, true},
		{"lower-case scheme", body, map[string]string{"Authorization": "bearer " + valid}, 200, true},
		{"missing header", body, nil, 401, false},
		{"not a bearer token", body, map[string]string{"Authorization": "Basic " + valid}, 401, false},
		{"not a JWT", body, bearer("abc.def"), 401, false},
		{"alg none", body, bearer(unsignedNone), 401, false},
		{"alg HS256 keyed with the public key", body, bearer(hsToken), 401, false},
		{"alg RS512", body, header(func(h map[string]any) { h["alg"] = "RS512" }), 401, false},
		{"no kid", body, header(func(h map[string]any) { delete(h, "kid") }), 401, false},
		{"unknown kid", body, header(func(h map[string]any) { h["kid"] = "rotated-away" }), 401, false},
		{"critical header", body, header(func(h map[string]any) { h["crit"] = []string{"b64"} }), 401, false},
		{"signed by another key", body, bearer(idToken(other, rs256(), pubsubClaims(nil))), 401, false},
		{"one byte changed in the claims", body, bearer(changedClaims), 401, false},
		{"one byte changed in the signature", body, bearer(changedSig), 401, false},
		{"expired", body, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, false},
		{"no exp", body, claims(func(c map[string]any) { delete(c, "exp") }), 401, false},
		{"not valid yet", body, claims(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), 401, false},
		{"issued in the future", body, claims(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), 401, false},
		{"other issuer", body, claims(func(c map[string]any) { c["iss"] = "https://token.actions.githubusercontent.com" }), 401, false},
		{"other audience", body, claims(func(c map[string]any) { c["aud"] = "https://attacker.example.com" }), 401, false},
		{"other email", body, claims(func(c map[string]any) { c["email"] = "someone@gmail.com" }), 401, false},
		{"email not verified", body, claims(func(c map[string]any) { c["email_verified"] = false }), 401, false},
		{"email_verified missing", body, claims(func(c map[string]any) { delete(c, "email_verified") }), 401, false},
		{"key set unavailable", body, header(func(h map[string]any) { h["kid"] = "unavailable" }), 503, false},
		{"body not JSON", []byte("hello"), bearer(valid), 400, false},
		{"data not base64", data("!!!"), bearer(valid), 400, false},
		{"data not an event", data(base64.StdEncoding.EncodeToString([]byte("INSERT"))), bearer(valid), 400, false},
		// The body is not what the token signs: a changed event is accepted.
		{"one byte changed in the body", bytes.Replace(body, []byte(`"messageId":"2`), []byte(`"messageId":"3`), 1), bearer(valid), 200, true},
	}, WithGoogleKeys(testKeySource))
	t.Run("secret without email or audience", func(t *testing.T) {
		runHookCases(t, Target{Type: "gcr", Token: []byte("path-token"), Audience: testAudience}, []hookCase{
			{"no email", body, bearer(valid), 401, false},
		}, WithGoogleKeys(testKeySource))
		runHookCases(t, Target{Type: "gcr", Token: []byte("path-token"), Email: testEmail}, []hookCase{
			{"no audience", body, bearer(valid), 401, false},
		}, WithGoogleKeys(testKeySource))
	})
}

// flipChar changes the first character of a base64url segment.
func flipChar(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func TestAudienceClaim(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want audience
		ok   bool
	}{
		{`"a"`, audience{"a"}, true},
		{`["a","b"]`, audience{"a", "b"}, true},
		{`1`, nil, false},
		{`[1]`, nil, false},
	} {
		var a audience
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err == nil) != tc.ok || fmt.Sprint(a) != fmt.Sprint(tc.want) {
			t.Errorf("%s: got %v, %v", tc.in, a, err)
		}
	}
}
