package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
)

// MaxBody is the largest request body accepted (413 above it).
const MaxBody = 3 << 20

// Target is the Receiver a path belongs to, as the handler needs it.
type Target struct {
	Namespace, Name string
	Type            string
	Token           []byte
	Events          []string
	Suspended       bool
	// Email and Audience are what a gcr Receiver expects of the ID token
	// (its "email" and "aud" claims): the service account and the audience
	// of the Pub/Sub push subscription, from the Secret's "email" and
	// "audience" keys. Other types ignore them.
	Email, Audience string
	// OIDCProviders are a generic-oidc Receiver's token issuers and the
	// rules its tokens' claims must pass.
	OIDCProviders []notificationv1.OIDCProvider
	// Body is the verified request body, set before Trigger runs, for the
	// Receiver's CEL filters (their "req").
	Body []byte
	// Claims are the verified token claims of a generic-oidc request, set
	// before Trigger runs, for the Receiver's CEL filters (their "claims").
	Claims map[string]any
}

// Lookup finds the Target of a webhook path; nil, nil means none.
type Lookup func(ctx context.Context, path string) (*Target, error)

// Trigger requests the reconcile of the Target's resources.
type Trigger func(ctx context.Context, t *Target) error

// Handler serves /hook/.
type Handler struct {
	lookup    Lookup
	trigger   Trigger
	verifiers map[string]Verifier
	log       logr.Logger
	requests  *prometheus.CounterVec
}

// Option changes how NewHandler builds the handler.
type Option func(*options)

type options struct {
	googleKeys KeySource
	oidcClient *http.Client
}

// WithGoogleKeys verifies Google-issued ID tokens (gcr Receivers) with keys
// instead of the key set fetched from GoogleCertsURL.
func WithGoogleKeys(keys KeySource) Option {
	return func(o *options) { o.googleKeys = keys }
}

// WithOIDCClient fetches generic-oidc issuers' discovery documents and key
// sets with client instead of a plain client with a 10 s timeout.
func WithOIDCClient(client *http.Client) Option {
	return func(o *options) { o.oidcClient = client }
}

// NewHandler returns the /hook/ handler. Metrics are registered on reg.
func NewHandler(lookup Lookup, trigger Trigger, log logr.Logger, reg prometheus.Registerer, opts ...Option) (*Handler, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.googleKeys == nil {
		jwks, err := NewJWKS(GoogleCertsURL, &http.Client{Timeout: 10 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("building the Google key source: %w", err)
		}
		o.googleKeys = jwks.Key
	}
	if o.oidcClient == nil {
		o.oidcClient = &http.Client{Timeout: 10 * time.Second}
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "weir_receiver_requests_total",
		Help: "Webhook requests by receiver type and outcome.",
	}, []string{"type", "outcome"})
	if reg != nil {
		if err := reg.Register(requests); err != nil {
			return nil, fmt.Errorf("registering receiver metrics: %w", err)
		}
	}
	return &Handler{lookup: lookup, trigger: trigger, verifiers: Verifiers(o.googleKeys, o.oidcClient), log: log, requests: requests}, nil
}

// NewServer returns an http.Server for h with header, read and size limits.
func NewServer(addr string, h http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/hook/", h)
	return &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	typ, code, msg := h.serve(r)
	h.requests.WithLabelValues(typ, outcome(code)).Inc()
	http.Error(w, msg, code)
}

func (h *Handler) serve(r *http.Request) (string, int, string) {
	if !strings.HasPrefix(r.URL.Path, "/hook/") {
		return "", http.StatusNotFound, "not found"
	}
	if r.Method != http.MethodPost {
		return "", http.StatusMethodNotAllowed, "method not allowed"
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", http.StatusRequestEntityTooLarge, "request body too large"
		}
		return "", http.StatusBadRequest, "cannot read the request body"
	}
	t, err := h.lookup(r.Context(), r.URL.Path)
	if err != nil {
		h.log.Error(err, "receiver lookup failed")
		return "", http.StatusInternalServerError, "receiver lookup failed"
	}
	if t == nil {
		return "", http.StatusNotFound, "not found"
	}
	log := h.log.WithValues("receiver", t.Namespace+"/"+t.Name, "type", t.Type)
	if t.Suspended {
		return t.Type, http.StatusServiceUnavailable, "receiver is suspended"
	}
	verify, ok := h.verifiers[t.Type]
	if !ok {
		return t.Type, http.StatusNotImplemented, ErrUnsupported.Error()
	}
	v, err := verify(r, body, t)
	switch {
	case errors.Is(err, ErrUnavailable):
		log.Error(err, "webhook request cannot be verified")
		return t.Type, http.StatusServiceUnavailable, "verification unavailable"
	case errors.Is(err, ErrUnauthorized):
		log.Info("webhook request refused", "reason", err.Error())
		var told *refusal
		if errors.As(err, &told) {
			return t.Type, http.StatusUnauthorized, "unauthorized: " + told.msg
		}
		return t.Type, http.StatusUnauthorized, "unauthorized"
	case err != nil:
		log.Info("webhook request refused", "reason", err.Error())
		return t.Type, http.StatusBadRequest, "bad request"
	}
	if !v.Trigger {
		return t.Type, http.StatusOK, v.Message
	}
	t.Body, t.Claims = body, v.Claims
	if err := h.trigger(r.Context(), t); err != nil {
		log.Error(err, "trigger failed")
		return t.Type, http.StatusInternalServerError, "trigger failed"
	}
	log.Info("reconcile requested")
	return t.Type, http.StatusOK, "ok"
}

func outcome(code int) string {
	switch {
	case code == http.StatusOK:
		return "success"
	case code == http.StatusUnauthorized:
		return "unauthorized"
	case code >= 500:
		return "error"
	default:
		return "rejected"
	}
}
