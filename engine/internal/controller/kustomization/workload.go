package kustomization

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"golang.org/x/oauth2"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
)

// spec.kubeConfig.configMapRef names a ConfigMap that says how to reach a
// remote cluster without a stored credential (Flux's secret-less auth):
// `provider` (aws, azure, gcp or generic), `cluster`, `address`, `ca.crt`,
// `serviceAccountName` and `audiences`. The cloud providers exchange a
// token with the cloud's identity service for cluster credentials; the
// engine holds no cloud credentials and refuses them with a Stalled
// condition that says so. The generic provider needs nothing but the
// Kubernetes API: the engine requests a token for the named service
// account (TokenRequest, in the Kustomization's namespace) with the
// audiences the remote cluster expects, and presents it to `address`. The
// remote cluster must trust this cluster's service account issuer.

// errKubeConfigSpec marks kubeConfig errors that only a change of the spec
// or of the ConfigMap fixes: they stall instead of retrying.
var errKubeConfigSpec = errors.New("unsupported kubeConfig")

type kubeConfigSpecError struct{ error }

func (e kubeConfigSpecError) Unwrap() error      { return e.error }
func (kubeConfigSpecError) Is(target error) bool { return target == errKubeConfigSpec }

func unsupported(format string, args ...any) error {
	return kubeConfigSpecError{fmt.Errorf(format, args...)}
}

// tokenLifetime is how long a requested service account token lasts; it is
// requested again shortly before it expires.
const tokenLifetime = time.Hour

// remoteFromConfigMap resolves spec.kubeConfig.configMapRef into a client
// configuration, and a digest of what it was built from for the client
// cache.
func (r *Reconciler) remoteFromConfigMap(ctx context.Context, o *kustomizev1.Kustomization, ref *meta.LocalObjectReference) (func() (*rest.Config, error), string, error) {
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: o.Namespace, Name: ref.Name}
	if err := r.Get(ctx, key, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("kubeconfig ConfigMap '%s' not found", key)
		}
		return nil, "", fmt.Errorf("reading kubeconfig ConfigMap '%s': %w", key, err)
	}
	d := cm.Data
	switch d["provider"] {
	case "generic":
	case "aws", "azure", "gcp":
		return nil, "", unsupported("kubeconfig ConfigMap '%s': provider '%s' needs cloud credentials, which the engine does not use; "+
			"use the 'generic' provider or spec.kubeConfig.secretRef", key, d["provider"])
	case "":
		return nil, "", unsupported("kubeconfig ConfigMap '%s' has no 'provider'", key)
	default:
		return nil, "", unsupported("kubeconfig ConfigMap '%s': unknown provider '%s', want aws, azure, gcp or generic", key, d["provider"])
	}
	address := d["address"]
	if u, err := url.Parse(address); address == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, "", unsupported("kubeconfig ConfigMap '%s': the generic provider needs 'address', the https URL of the API server", key)
	}
	sa := d["serviceAccountName"]
	switch {
	case sa == "":
		return nil, "", unsupported("kubeconfig ConfigMap '%s': the generic provider needs 'serviceAccountName'; "+
			"the engine does not request tokens for its own identity", key)
	case !r.ObjectLevelWorkloadIdentity:
		return nil, "", unsupported("kubeconfig ConfigMap '%s': 'serviceAccountName' needs --feature-gates=ObjectLevelWorkloadIdentity=true", key)
	}
	var audiences []string
	for _, a := range strings.Split(d["audiences"], "\n") {
		if a = strings.TrimSpace(a); a != "" {
			audiences = append(audiences, a)
		}
	}
	if len(audiences) == 0 {
		audiences = []string{address}
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\n", k, d[k])
	}
	build := func() (*rest.Config, error) {
		cfg := &rest.Config{Host: address, Timeout: remoteClientTimeout, UserAgent: FieldOwner,
			TLSClientConfig: rest.TLSClientConfig{CAData: []byte(d["ca.crt"])}}
		ts := transport.NewCachedTokenSource(&saTokenSource{c: r.Client, sa: client.ObjectKey{Namespace: o.Namespace, Name: sa}, audiences: audiences})
		cfg.WrapTransport = transport.TokenSourceWrapTransport(ts)
		return cfg, nil
	}
	return build, hex.EncodeToString(h.Sum(nil)), nil
}

// saTokenSource requests tokens for a service account of the engine's
// cluster.
type saTokenSource struct {
	c         client.Client
	sa        client.ObjectKey
	audiences []string
}

func (s *saTokenSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), remoteClientTimeout)
	defer cancel()
	seconds := int64(tokenLifetime / time.Second)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.sa.Namespace, Name: s.sa.Name}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: s.audiences, ExpirationSeconds: &seconds}}
	if err := s.c.SubResource("token").Create(ctx, sa, tr); err != nil {
		return nil, fmt.Errorf("requesting a token for service account '%s': %w", s.sa, err)
	}
	// Ask again a little early, so no request carries an expired token.
	return &oauth2.Token{AccessToken: tr.Status.Token, TokenType: "Bearer",
		Expiry: tr.Status.ExpirationTimestamp.Add(-time.Minute)}, nil
}

// remoteClusterFromConfigMap is clusterFor's configMapRef branch.
func (r *Reconciler) remoteClusterFromConfigMap(ctx context.Context, o *kustomizev1.Kustomization, ref *meta.LocalObjectReference, sa string) (*apply.Cluster, error) {
	build, digest, err := r.remoteFromConfigMap(ctx, o, ref)
	if err != nil {
		return nil, err
	}
	return r.clusters.get("configmap/"+o.Namespace+"/"+ref.Name+"/"+sa, digest, func() (*apply.Cluster, error) {
		cfg, err := build()
		if err != nil {
			return nil, err
		}
		cfg.QPS, cfg.Burst = r.restCfg.QPS, r.restCfg.Burst
		return r.newCluster(cfg, o.Namespace, sa, false)
	})
}
