package git

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// DefaultMaxRefsSize caps a reference advertisement when
// Client.MaxRefsSize is zero. Hosts that advertise every pull request
// (refs/pull/N/head) reach megabytes on large projects.
const DefaultMaxRefsSize int64 = 64 << 20

// list is an ls-remote: the references the remote advertises, with the
// peeled commits of annotated tags appended as "<tag>^{}". Over HTTP(S) it
// reads through a client of its own whose responses are capped, so an
// endless advertisement cannot exhaust memory before the timeout.
func (c Client) list(ctx context.Context, req Request) ([]*plumbing.Reference, error) {
	refs, err := c.advertised(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("unable to list references of '%s': %w", redact(req.URL), err)
	}
	return refs, nil
}

func (c Client) advertised(ctx context.Context, req Request) (refs []*plumbing.Reference, err error) {
	auth, err := authMethod(req)
	if err != nil {
		return nil, err
	}
	ep, err := transport.NewEndpoint(req.URL)
	if err != nil {
		return nil, err
	}
	var tr transport.Transport
	switch ep.Protocol {
	case "http", "https":
		hc, done, err := c.httpClient(req)
		if err != nil {
			return nil, err
		}
		defer done()
		tr = githttp.NewClient(hc)
	default:
		ep.Proxy = transport.ProxyOptions{URL: req.ProxyURL}
		if tr, err = client.NewClient(ep); err != nil {
			return nil, err
		}
	}
	sess, err := tr.NewUploadPackSession(ep, auth)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sess.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, err
	}
	all, err := ar.AllReferences()
	if err != nil {
		return nil, err
	}
	iter, err := all.IterReferences()
	if err != nil {
		return nil, err
	}
	if err := iter.ForEach(func(r *plumbing.Reference) error {
		refs = append(refs, r)
		return nil
	}); err != nil {
		return nil, err
	}
	for name, h := range ar.Peeled {
		refs = append(refs, plumbing.NewReferenceFromStrings(name+"^{}", h.String()))
	}
	return refs, nil
}

// httpClient is an HTTP client for one ls-remote: the Secret's CA and
// client certificate, the proxy, and a cap on every response body. done
// releases the connections of a transport made for these options.
func (c Client) httpClient(req Request) (*http.Client, func(), error) {
	limit := c.MaxRefsSize
	if limit <= 0 {
		limit = DefaultMaxRefsSize
	}
	if len(req.Auth["ca.crt"]) == 0 && len(req.Auth["tls.crt"]) == 0 && req.ProxyURL == "" {
		// Plain requests share the default pool, and its idle connections.
		return &http.Client{Transport: cappedTransport{base: http.DefaultTransport, limit: limit}}, func() {}, nil
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if ca := req.Auth["ca.crt"]; len(ca) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(ca)
		base.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	if crt, key := req.Auth["tls.crt"], req.Auth["tls.key"]; len(crt) > 0 && len(key) > 0 {
		pair, err := tls.X509KeyPair(crt, key)
		if err != nil {
			return nil, nil, err
		}
		if base.TLSClientConfig == nil {
			base.TLSClientConfig = &tls.Config{}
		}
		base.TLSClientConfig.Certificates = []tls.Certificate{pair}
	}
	if req.ProxyURL != "" {
		u, err := url.Parse(req.ProxyURL)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid proxy url: %w", err)
		}
		base.Proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: cappedTransport{base: base, limit: limit}}, base.CloseIdleConnections, nil
}

// cappedTransport fails the reading of any response body beyond limit.
type cappedTransport struct {
	base  http.RoundTripper
	limit int64
}

func (t cappedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.limit, limit: t.limit}
	return resp, nil
}

type cappedBody struct {
	rc          io.ReadCloser
	left, limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w: the reference advertisement is over %d bytes", ErrTooLarge, b.limit)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
