package webhook

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func jwkOf(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

// keySetServer serves *keys as a key set with cacheControl, and counts GETs.
type keySetServer struct {
	*httptest.Server
	gets   atomic.Int32
	status atomic.Int32
}

func newKeySetServer(t *testing.T, cacheControl string, keys ...map[string]string) *keySetServer {
	s := &keySetServer{}
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.gets.Add(1)
		w.Header().Set("Cache-Control", cacheControl)
		w.WriteHeader(int(s.status.Load()))
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	t.Cleanup(s.Close)
	return s
}

// jwksAt returns a key source for srv whose clock reads *now.
func jwksAt(t *testing.T, srv *keySetServer, now *time.Time) *JWKS {
	j, err := NewJWKS(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	j.now = func() time.Time { return *now }
	return j
}

func TestJWKS(t *testing.T) {
	ctx := context.Background()
	pub := &testKeys()[0].PublicKey
	t0 := time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)

	t.Run("cached for max-age", func(t *testing.T) {
		srv := newKeySetServer(t, "public, max-age=600, must-revalidate", jwkOf("a", pub))
		now := t0
		j := jwksAt(t, srv, &now)
		for range 3 {
			if k, err := j.Key(ctx, "a"); err != nil || !k.Equal(pub) {
				t.Fatalf("Key: %v, %v", k, err)
			}
		}
		if n := srv.gets.Load(); n != 1 {
			t.Fatalf("fetched %d times, want 1", n)
		}
		now = now.Add(601 * time.Second)
		if _, err := j.Key(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if n := srv.gets.Load(); n != 2 {
			t.Fatalf("fetched %d times after max-age, want 2", n)
		}
	})

	t.Run("unknown kid refetches at most once a minute", func(t *testing.T) {
		srv := newKeySetServer(t, "max-age=3600", jwkOf("a", pub))
		now := t0
		j := jwksAt(t, srv, &now)
		for range 5 {
			if _, err := j.Key(ctx, "rotated-in"); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("unknown kid: got %v, want ErrUnauthorized", err)
			}
		}
		if n := srv.gets.Load(); n != 1 {
			t.Fatalf("fetched %d times, want 1", n)
		}
		now = now.Add(jwksMinAge)
		_, _ = j.Key(ctx, "rotated-in")
		if n := srv.gets.Load(); n != 2 {
			t.Fatalf("fetched %d times a minute later, want 2", n)
		}
	})

	t.Run("fetch failure is unavailable, not unauthorized", func(t *testing.T) {
		srv := newKeySetServer(t, "max-age=60", jwkOf("a", pub))
		srv.status.Store(http.StatusInternalServerError)
		now := t0
		j := jwksAt(t, srv, &now)
		if _, err := j.Key(ctx, "a"); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnauthorized) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		if _, err := j.Key(ctx, "a"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		if n := srv.gets.Load(); n != 1 {
			t.Fatalf("fetched %d times, want 1 within a minute", n)
		}
		srv.status.Store(http.StatusOK)
		now = now.Add(jwksMinAge)
		if _, err := j.Key(ctx, "a"); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})

	t.Run("weak and foreign keys are ignored", func(t *testing.T) {
		weak, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		enc := jwkOf("enc", pub)
		enc["use"] = "enc"
		ps := jwkOf("ps", pub)
		ps["alg"] = "PS256"
		ec := map[string]string{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}
		srv := newKeySetServer(t, "", jwkOf("weak", &weak.PublicKey), enc, ps, ec, jwkOf("good", pub))
		now := t0
		j := jwksAt(t, srv, &now)
		if _, err := j.Key(ctx, "good"); err != nil {
			t.Fatal(err)
		}
		for _, kid := range []string{"weak", "enc", "ps", "ec"} {
			if _, err := j.Key(ctx, kid); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("%s: got %v, want ErrUnauthorized", kid, err)
			}
		}
	})

	t.Run("a caller going away does not abort the fetch", func(t *testing.T) {
		srv := newKeySetServer(t, "", jwkOf("a", pub))
		now := t0
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := jwksAt(t, srv, &now).Key(gone, "a"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a set with no usable key is unavailable", func(t *testing.T) {
		srv := newKeySetServer(t, "")
		now := t0
		if _, err := jwksAt(t, srv, &now).Key(ctx, "a"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
}

func TestNewJWKS(t *testing.T) {
	for _, u := range []string{"http://www.googleapis.com/oauth2/v3/certs", "https://", "::"} {
		if _, err := NewJWKS(u, http.DefaultClient); err == nil {
			t.Errorf("%q: want an error", u)
		}
	}
	if _, err := NewJWKS(GoogleCertsURL, nil); err == nil {
		t.Error("nil client: want an error")
	}
	if _, err := NewJWKS(GoogleCertsURL, http.DefaultClient); err != nil {
		t.Error(err)
	}
}

func TestMaxAge(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": jwksDefaultAge,
		"public, max-age=19868, must-revalidate, no-transform": 19868 * time.Second,
		"Max-Age=120":                  2 * time.Minute,
		"max-age=0":                    jwksMinAge,
		"max-age=-5":                   jwksMinAge,
		"max-age=99999999999999999999": jwksDefaultAge, // not an int
		"max-age=9999999":              jwksMaxAge,
		"no-store":                     jwksDefaultAge,
	} {
		if got := maxAge(in); got != want {
			t.Errorf("maxAge(%q) = %v, want %v", in, got, want)
		}
	}
}
