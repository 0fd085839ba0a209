package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
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

// Verdict is what a verified request asks for.
type Verdict struct {
	// Trigger is false for requests that are answered without a reconcile:
	// a ping, or an event the Receiver does not list.
	Trigger bool
	Message string
}

// Verifier checks one request against the Receiver's token and events.
type Verifier func(r *http.Request, body, token []byte, events []string) (Verdict, error)

// Verifiers returns the verifier of every supported Receiver type.
func Verifiers() map[string]Verifier {
	return map[string]Verifier{
		notificationv1.GenericReceiver:     verifyGeneric,
		notificationv1.GenericHMACReceiver: verifyGenericHMAC,
		notificationv1.GitHubReceiver:      verifyGitHub,
		notificationv1.GitLabReceiver:      verifyGitLab,
	}
}

func verifyGeneric(*http.Request, []byte, []byte, []string) (Verdict, error) {
	// The secret path is the credential.
	return Verdict{Trigger: true}, nil
}

func verifyGenericHMAC(r *http.Request, body, token []byte, _ []string) (Verdict, error) {
	if err := checkSignature(r.Header.Get("X-Signature"), body, token); err != nil {
		return Verdict{}, err
	}
	return Verdict{Trigger: true}, nil
}

func verifyGitHub(r *http.Request, body, token []byte, events []string) (Verdict, error) {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		sig = r.Header.Get("X-Hub-Signature")
	}
	if err := checkSignature(sig, body, token); err != nil {
		return Verdict{}, err
	}
	event := r.Header.Get("X-GitHub-Event")
	if event == "ping" {
		return Verdict{Message: "pong"}, nil
	}
	if !eventAllowed(events, event) {
		return Verdict{Message: fmt.Sprintf("event %q is not in spec.events", event)}, nil
	}
	return Verdict{Trigger: true}, nil
}

func verifyGitLab(r *http.Request, _ []byte, token []byte, events []string) (Verdict, error) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Gitlab-Token")), token) != 1 {
		return Verdict{}, fmt.Errorf("%w: the X-Gitlab-Token header does not match", ErrUnauthorized)
	}
	event := r.Header.Get("X-Gitlab-Event")
	if !eventAllowed(events, event) {
		return Verdict{Message: fmt.Sprintf("event %q is not in spec.events", event)}, nil
	}
	return Verdict{Trigger: true}, nil
}

func eventAllowed(events []string, event string) bool {
	return len(events) == 0 || slices.ContainsFunc(events, func(e string) bool { return strings.EqualFold(e, event) })
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
