package oci

import (
	"context"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures registry access.
type Option func(*options)

type options struct {
	keychain  authn.Keychain
	insecure  bool
	transport http.RoundTripper
	nameOpts  []name.Option
	remote    []remote.Option
}

// WithKeychain sets where credentials come from. Default: anonymous.
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithInsecure allows plain HTTP to the registry (loopback and private
// addresses are plain HTTP already).
func WithInsecure(b bool) Option { return func(o *options) { o.insecure = b } }

// WithTransport sets the HTTP transport (tests, proxies, custom CAs).
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

func newOptions(ctx context.Context, opts []Option) *options {
	o := &options{keychain: authn.NewMultiKeychain()}
	for _, f := range opts {
		f(o)
	}
	if o.insecure {
		o.nameOpts = append(o.nameOpts, name.Insecure)
	}
	o.remote = []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain), remote.WithUserAgent("weir")}
	if o.transport != nil {
		o.remote = append(o.remote, remote.WithTransport(o.transport))
	}
	return o
}
