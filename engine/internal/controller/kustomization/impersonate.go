package kustomization

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// A Kustomization acts on a cluster as an identity: by default the engine's
// own cluster as the engine itself; with spec.serviceAccountName (or the
// engine-wide default account) as system:serviceaccount:<namespace>:<name>;
// with spec.kubeConfig on the cluster and as the user of a kubeconfig kept in
// a Secret, impersonating the service account there when one is named.
// Apply, prune, health reads and deletion all go through that identity;
// building (substituteFrom, decryption keys) reads the engine's own cluster
// as the engine, as Flux does.

// remoteClientTimeout bounds each request to a remote API server, so an
// unreachable cluster fails a reconcile instead of hanging it.
const remoteClientTimeout = 30 * time.Second

// clusters caches the clients of impersonated accounts and remote clusters:
// building one discovers the API, which is too slow for every reconcile.
type clusters struct {
	mu sync.Mutex
	m  map[string]cachedCluster
}

type cachedCluster struct {
	digest string // of the kubeconfig it was built from; empty for local
	c      *apply.Cluster
}

func (cs *clusters) get(key, digest string, build func() (*apply.Cluster, error)) (*apply.Cluster, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if e, ok := cs.m[key]; ok && e.digest == digest {
		return e.c, nil
	}
	c, err := build()
	if err != nil {
		return nil, err
	}
	if cs.m == nil {
		cs.m = map[string]cachedCluster{}
	}
	// A rotated kubeconfig replaces the entry of its Secret.
	cs.m[key] = cachedCluster{digest: digest, c: c}
	return c, nil
}

// serviceAccount is the account o's objects are handled as, empty for the
// engine's own identity.
func (r *Reconciler) serviceAccount(o *kustomizev1.Kustomization) string {
	if o.Spec.ServiceAccountName != "" {
		return o.Spec.ServiceAccountName
	}
	return r.DefaultServiceAccount
}

// connect resolves the cluster and identity of o for the apply, prune and
// health steps.
func (r *Reconciler) connect(ctx context.Context, o *kustomizev1.Kustomization, s *state) error {
	c, err := r.clusterFor(ctx, o)
	if errors.Is(err, errKubeConfigSpec) {
		return reconcile.Stall(meta.ReconciliationFailedReason, fmt.Errorf("failed to build kube client: %w", err))
	}
	if err != nil {
		return reconcile.Retry(meta.ReconciliationFailedReason, fmt.Errorf("failed to build kube client: %w", err))
	}
	s.cluster = c
	return nil
}

func (r *Reconciler) clusterFor(ctx context.Context, o *kustomizev1.Kustomization) (*apply.Cluster, error) {
	sa := r.serviceAccount(o)
	if o.Spec.KubeConfig == nil {
		if sa == "" {
			return r.local, nil
		}
		return r.clusters.get("sa/"+o.Namespace+"/"+sa, "", func() (*apply.Cluster, error) {
			return r.newCluster(rest.CopyConfig(r.restCfg), o.Namespace, sa, true)
		})
	}
	if cm := o.Spec.KubeConfig.ConfigMapRef; cm != nil {
		if o.Spec.KubeConfig.SecretRef != nil {
			return nil, unsupported("spec.kubeConfig.secretRef and spec.kubeConfig.configMapRef are mutually exclusive")
		}
		return r.remoteClusterFromConfigMap(ctx, o, cm, sa)
	}
	ref := o.Spec.KubeConfig.SecretRef
	if ref == nil {
		return nil, unsupported("spec.kubeConfig needs a secretRef or a configMapRef")
	}
	data, err := r.kubeConfig(ctx, o.Namespace, ref)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	key := "kubeconfig/" + o.Namespace + "/" + ref.Name + "/" + ref.Key + "/" + sa
	return r.clusters.get(key, hex.EncodeToString(sum[:]), func() (*apply.Cluster, error) {
		cfg, err := restConfigFromKubeConfig(data, r.Options)
		if err != nil {
			return nil, fmt.Errorf("invalid kubeconfig in Secret '%s/%s': %w", o.Namespace, ref.Name, err)
		}
		cfg.QPS, cfg.Burst = r.restCfg.QPS, r.restCfg.Burst
		return r.newCluster(cfg, o.Namespace, sa, false)
	})
}

// newCluster builds uncached clients for cfg, impersonating sa of ns when
// set.
func (r *Reconciler) newCluster(cfg *rest.Config, ns, sa string, local bool) (*apply.Cluster, error) {
	if sa != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa}
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: r.Scheme(), Mapper: mapper, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	opts := apply.ClusterOptions{ID: "sa/" + ns + "/" + sa, Local: local, Account: sa, Concurrency: r.ConcurrentSSA}
	if local && r.ledger != nil {
		// The engine's own cluster: the engine's cache sees the objects.
		opts.Ledger, opts.Fingerprints = r.ledger, r.Fingerprints
	}
	return apply.NewCluster(c, mapper, opts), nil
}

// kubeConfig reads the kubeconfig of ref: its key, else "value", else
// "value.yaml", as Flux does.
func (r *Reconciler) kubeConfig(ctx context.Context, ns string, ref *meta.SecretKeyReference) ([]byte, error) {
	var sec corev1.Secret
	key := client.ObjectKey{Namespace: ns, Name: ref.Name}
	if err := r.Get(ctx, key, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("kubeconfig Secret '%s' not found", key)
		}
		return nil, fmt.Errorf("reading kubeconfig Secret '%s': %w", key, err)
	}
	if ref.Key != "" {
		if b := sec.Data[ref.Key]; len(b) > 0 {
			return b, nil
		}
		return nil, fmt.Errorf("kubeconfig Secret '%s' has no key '%s'", key, ref.Key)
	}
	for _, k := range []string{"value", "value.yaml"} {
		if b := sec.Data[k]; len(b) > 0 {
			return b, nil
		}
	}
	return nil, fmt.Errorf("kubeconfig Secret '%s' has no key 'value' or 'value.yaml'", key)
}

// restConfigFromKubeConfig builds a client configuration from a
// self-contained kubeconfig. Nothing of the engine's own machine may be
// used: no files, no auth-provider plugins, and no exec credential plugins
// or disabled TLS verification unless the Options allow them.
func restConfigFromKubeConfig(data []byte, opts Options) (*rest.Config, error) {
	kc, err := clientcmd.Load(data)
	if err != nil {
		return nil, err
	}
	kctx, ok := kc.Contexts[kc.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("current-context %q not found", kc.CurrentContext)
	}
	cl, ok := kc.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("cluster %q not found", kctx.Cluster)
	}
	if user := kc.AuthInfos[kctx.AuthInfo]; user != nil {
		switch {
		case user.TokenFile != "" || user.ClientCertificate != "" || user.ClientKey != "":
			return nil, fmt.Errorf("user %q references files; embed the token and client-certificate-data/client-key-data", kctx.AuthInfo)
		case user.AuthProvider != nil:
			return nil, fmt.Errorf("user %q uses the auth-provider %q, which is not supported", kctx.AuthInfo, user.AuthProvider.Name)
		case user.Exec != nil && !opts.InsecureKubeConfigExec:
			return nil, fmt.Errorf("user %q uses the exec credential plugin %q, which is not allowed", kctx.AuthInfo, user.Exec.Command)
		}
	}
	switch {
	case cl.CertificateAuthority != "":
		return nil, fmt.Errorf("cluster %q references a certificate-authority file; embed certificate-authority-data", kctx.Cluster)
	case cl.InsecureSkipTLSVerify && !opts.InsecureKubeConfigTLS:
		return nil, fmt.Errorf("cluster %q sets insecure-skip-tls-verify, which is not allowed", kctx.Cluster)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*kc, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = remoteClientTimeout
	}
	cfg.UserAgent = FieldOwner
	return cfg, nil
}

// accountExists tells whether the impersonated account of c still exists
// in the engine's cluster; deleting as an account that is gone can only
// fail.
func (r *Reconciler) accountExists(ctx context.Context, ns string, c *apply.Cluster) (bool, error) {
	if c.Account == "" || !c.Local {
		return true, nil
	}
	err := r.apiReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: c.Account}, &corev1.ServiceAccount{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}
