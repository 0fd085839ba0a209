package diff

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/build"
)

// NewFetcher returns a Fetcher that downloads an artifact directly, or,
// when its URL names an in-cluster Service (name.namespace.svc, optionally
// followed by .cluster.local), through the API server's service proxy with
// cfg's credentials, so that a diff run from a workstation reaches the
// engine's artifact server.
func NewFetcher(cfg *rest.Config) (Fetcher, error) {
	direct := &http.Client{Timeout: 2 * time.Minute}
	proxied, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the API server's HTTP client: %w", err)
	}
	return func(ctx context.Context, raw, digest string) (filesys.FileSystem, error) {
		if p, ok := serviceProxyURL(cfg.Host, raw); ok {
			return build.Fetch(ctx, proxied, nil, p, digest)
		}
		return build.Fetch(ctx, direct, nil, raw, digest)
	}, nil
}

// serviceProxyURL rewrites an artifact URL on an in-cluster Service to the
// API server's proxy path for that Service.
func serviceProxyURL(apiServer, raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
	}
	parts := strings.SplitN(host, ".", 4)
	if len(parts) < 3 || parts[2] != "svc" || (len(parts) == 4 && parts[3] != "cluster.local") || net.ParseIP(host) != nil {
		return "", false
	}
	p := fmt.Sprintf("%s/api/v1/namespaces/%s/services/%s:%s/proxy%s", strings.TrimSuffix(apiServer, "/"),
		url.PathEscape(parts[1]), url.PathEscape(parts[0]), port, u.EscapedPath())
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, true
}
