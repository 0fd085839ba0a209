package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// GoogleCertsURL is the key set that signs Google-issued ID tokens, among
// them those Pub/Sub push subscriptions send.
const GoogleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// gcrVerifier returns the verifier of Google Container/Artifact Registry
// notifications, delivered by a Pub/Sub push subscription: the request
// carries an ID token that Google signs for the subscription's service
// account and audience, and the body is a Pub/Sub message wrapping the
// registry event.
func gcrVerifier(keys KeySource) Verifier {
	return func(r *http.Request, body []byte, t *Target) (Verdict, error) {
		if t.Email == "" || t.Audience == "" {
			return Verdict{}, fmt.Errorf("%w: the receiver secret has no email or audience", ErrUnauthorized)
		}
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			return Verdict{}, fmt.Errorf("%w: missing or malformed Authorization bearer token", ErrUnauthorized)
		}
		c, err := verifyIDToken(r.Context(), raw, keys, time.Now())
		if err != nil {
			return Verdict{}, err
		}
		switch {
		case !isGoogleIssuer(c.Issuer):
			return Verdict{}, fmt.Errorf("%w: token issuer %q is not Google", ErrUnauthorized, c.Issuer)
		case !c.Audience.contains(t.Audience):
			return Verdict{}, fmt.Errorf("%w: token audience does not match", ErrUnauthorized)
		case c.Email != t.Email:
			return Verdict{}, fmt.Errorf("%w: token email does not match", ErrUnauthorized)
		case !c.EmailVerified:
			return Verdict{}, fmt.Errorf("%w: token email is not verified", ErrUnauthorized)
		}
		if err := checkGCRMessage(body); err != nil {
			return Verdict{}, err
		}
		return Verdict{Trigger: true}, nil
	}
}

// checkGCRMessage checks that body is a Pub/Sub push message whose data is
// a registry event in base64-encoded JSON.
func checkGCRMessage(body []byte) error {
	var p struct {
		Message struct {
			Data        string    `json:"data"`
			MessageID   string    `json:"messageId"`
			PublishTime time.Time `json:"publishTime"`
		} `json:"message"`
		Subscription string `json:"subscription"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return fmt.Errorf("decoding the Pub/Sub message: %w", err)
	}
	data, err := base64.StdEncoding.DecodeString(p.Message.Data)
	if err != nil {
		return errors.New("the Pub/Sub message data is not base64")
	}
	var event struct {
		Action string `json:"action"`
		Digest string `json:"digest"`
		Tag    string `json:"tag"`
	}
	if err := decodeJSON(data, &event); err != nil {
		return fmt.Errorf("decoding the registry event: %w", err)
	}
	return nil
}

// bearerToken is the token of an "Authorization: Bearer <token>" header.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// isGoogleIssuer tells the two "iss" values of Google-issued ID tokens.
func isGoogleIssuer(iss string) bool {
	return iss == "accounts.google.com" || iss == "https://accounts.google.com"
}
