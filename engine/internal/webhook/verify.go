package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
)

// ErrUnauthorized is a request whose signature or token does not verify.
var ErrUnauthorized = errors.New("unauthorized")

// ErrUnsupported is a Receiver type this endpoint does not verify yet.
var ErrUnsupported = errors.New("receiver type not supported")

// ErrUnavailable is a request that cannot be verified now for a reason on
// this side (the keys that sign it cannot be fetched); the sender retries.
var ErrUnavailable = errors.New("verification unavailable")

// Verdict is what a verified request asks for.
type Verdict struct {
	// Trigger is false for requests that are answered without a reconcile:
	// a ping, or an event the Receiver does not list.
	Trigger bool
	Message string
	// Claims are the verified claims of a generic-oidc token.
	Claims map[string]any
}

// Verifier checks one request, whose body is already read, against its
// Receiver. An error wrapping ErrUnauthorized is a failed authentication,
// one wrapping ErrUnavailable a failure on this side, any other a bad request.
type Verifier func(r *http.Request, body []byte, t *Target) (Verdict, error)

// Verifiers returns the verifier of every supported Receiver type; google
// gives the keys that sign Google-issued ID tokens, oidc fetches the
// discovery documents and keys of generic-oidc issuers.
func Verifiers(google KeySource, oidc *http.Client) map[string]Verifier {
	return map[string]Verifier{
		notificationv1.GenericOIDCReceiver: newOIDCVerifier(oidc).verify,
		notificationv1.GenericReceiver:     verifyGeneric,
		notificationv1.GenericHMACReceiver: verifyGenericHMAC,
		notificationv1.GitHubReceiver:      verifyGitHub,
		notificationv1.GitLabReceiver:      verifyGitLab,
		notificationv1.BitbucketReceiver:   verifyBitbucket,
		notificationv1.HarborReceiver:      verifyHarbor,
		notificationv1.NexusReceiver:       verifyNexus,
		notificationv1.DockerHubReceiver:   verifyDockerHub,
		notificationv1.QuayReceiver:        verifyQuay,
		notificationv1.ACRReceiver:         verifyACR,
		notificationv1.CDEventsReceiver:    verifyCDEvents,
		notificationv1.GCRReceiver:         gcrVerifier(google),
	}
}

func verifyGeneric(*http.Request, []byte, *Target) (Verdict, error) {
	// The secret path is the credential.
	return Verdict{Trigger: true}, nil
}

func verifyGenericHMAC(r *http.Request, body []byte, t *Target) (Verdict, error) {
	if err := checkSignature(r.Header.Get("X-Signature"), body, t.Token); err != nil {
		return Verdict{}, err
	}
	return Verdict{Trigger: true}, nil
}

func verifyGitHub(r *http.Request, body []byte, t *Target) (Verdict, error) {
	if err := checkSignature(hubSignature(r), body, t.Token); err != nil {
		return Verdict{}, err
	}
	event := r.Header.Get("X-GitHub-Event")
	if event == "ping" {
		return Verdict{Message: "pong"}, nil
	}
	return filterEvent(t.Events, event), nil
}

func verifyGitLab(r *http.Request, _ []byte, t *Target) (Verdict, error) {
	if !secretEqual(r.Header.Get("X-Gitlab-Token"), t.Token) {
		return Verdict{}, fmt.Errorf("%w: the X-Gitlab-Token header does not match", ErrUnauthorized)
	}
	return filterEvent(t.Events, r.Header.Get("X-Gitlab-Event")), nil
}

// verifyBitbucket serves Bitbucket Server and Bitbucket Cloud alike: both
// sign the body with the webhook secret in X-Hub-Signature, the way GitHub
// does, and name the event in X-Event-Key.
func verifyBitbucket(r *http.Request, body []byte, t *Target) (Verdict, error) {
	if err := checkSignature(hubSignature(r), body, t.Token); err != nil {
		return Verdict{}, err
	}
	event := r.Header.Get("X-Event-Key")
	if event == "diagnostics:ping" {
		// Bitbucket Server's "Test connection".
		return Verdict{Message: "pong"}, nil
	}
	return filterEvent(t.Events, event), nil
}

// verifyHarbor compares the Authorization header, which Harbor sends as
// configured ("Auth Header" of the webhook policy), with the token.
func verifyHarbor(r *http.Request, _ []byte, t *Target) (Verdict, error) {
	if !secretEqual(r.Header.Get("Authorization"), t.Token) {
		return Verdict{}, fmt.Errorf("%w: the Authorization header does not match", ErrUnauthorized)
	}
	return Verdict{Trigger: true}, nil
}

// verifyNexus checks X-Nexus-Webhook-Signature, the hex HMAC-SHA1 of the
// body keyed with the token, then that the body is a Nexus event.
func verifyNexus(r *http.Request, body []byte, t *Target) (Verdict, error) {
	sig := r.Header.Get("X-Nexus-Webhook-Signature")
	if sig == "" {
		return Verdict{}, fmt.Errorf("%w: missing X-Nexus-Webhook-Signature header", ErrUnauthorized)
	}
	if err := checkHMAC(sha1.New, sig, body, t.Token); err != nil {
		return Verdict{}, err
	}
	var p struct {
		Action         string `json:"action"`
		RepositoryName string `json:"repositoryName"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return Verdict{}, fmt.Errorf("decoding the Nexus payload: %w", err)
	}
	return Verdict{Trigger: true}, nil
}

// hubSignature is the GitHub-style signature header, the SHA-256 one first.
func hubSignature(r *http.Request) string {
	if sig := r.Header.Get("X-Hub-Signature-256"); sig != "" {
		return sig
	}
	return r.Header.Get("X-Hub-Signature")
}

func filterEvent(events []string, event string) Verdict {
	if !eventAllowed(events, event) {
		return Verdict{Message: fmt.Sprintf("event %q is not in spec.events", event)}
	}
	return Verdict{Trigger: true}
}

func eventAllowed(events []string, event string) bool {
	return len(events) == 0 || slices.ContainsFunc(events, func(e string) bool { return strings.EqualFold(e, event) })
}

// secretEqual compares a presented secret with the token in constant time;
// hashing both first keeps the token's length from leaking. An empty token
// matches nothing.
func secretEqual(got string, token []byte) bool {
	if len(token) == 0 {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256(token)
	return hmac.Equal(g[:], w[:])
}

// checkSignature verifies "<algo>=<hex>" as the HMAC of body with token.
func checkSignature(header string, body, token []byte) error {
	algo, sig, ok := strings.Cut(header, "=")
	if !ok || sig == "" {
		return fmt.Errorf("%w: missing or malformed signature header", ErrUnauthorized)
	}
	var h func() hash.Hash
	switch algo {
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha512":
		h = sha512.New
	default:
		return fmt.Errorf("%w: unsupported signature algorithm %q", ErrUnauthorized, algo)
	}
	return checkHMAC(h, sig, body, token)
}

// checkHMAC verifies sig, in hex, as the HMAC of body with token.
func checkHMAC(h func() hash.Hash, sig string, body, token []byte) error {
	if len(token) == 0 {
		return fmt.Errorf("%w: the receiver has no token", ErrUnauthorized)
	}
	want, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrUnauthorized)
	}
	mac := hmac.New(h, token)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want) {
		return fmt.Errorf("%w: signature does not match", ErrUnauthorized)
	}
	return nil
}
