package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/oci"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/reconcile"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// FieldOwner is the field manager of the controller's status patches.
const FieldOwner = "weir-plugin-controller"

const secretIndex = ".spec.secretRefs"

// Options configure the Plugin controller.
type Options struct {
	Concurrent int
	// Limits cap every pull.
	Limits oci.Limits
	// ModuleDir keeps verified modules by digest, so that a restart with
	// the registry down still serves the last verified digest. Empty: none.
	ModuleDir string
	// RegistryOptions are added to every registry call (tests: transports).
	RegistryOptions []oci.Option
}

// Reconciler reconciles Plugins into Catalog.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Host     *wasm.Host
	Catalog  *wasm.Catalog
	Options
	runner *reconcile.Runner[*v1alpha1.Plugin]
}

// SetupWithManager registers the controller and its Secret index.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Host == nil || r.Catalog == nil {
		return errors.New("plugin controller: Host and Catalog are required")
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.Plugin{}, secretIndex, func(o client.Object) []string {
		return secretNames(o.(*v1alpha1.Plugin))
	}); err != nil {
		return fmt.Errorf("indexing plugins by secret: %w", err)
	}
	r.runner = &reconcile.Runner[*v1alpha1.Plugin]{
		Client: r.Client, Recorder: r.Recorder, FieldOwner: FieldOwner,
		Handled: func(o *v1alpha1.Plugin, v string) { o.Status.LastHandledReconcileAt = v },
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Plugin{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.pluginsForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrent, 1)}).
		Complete(r)
}

func secretNames(p *v1alpha1.Plugin) []string {
	names := []string{p.Spec.Verify.SecretRef.Name}
	if p.Spec.SecretRef != nil {
		names = append(names, p.Spec.SecretRef.Name)
	}
	if p.Spec.Notify != nil && p.Spec.Notify.SecretRef != nil {
		names = append(names, p.Spec.Notify.SecretRef.Name)
	}
	return names
}

func (r *Reconciler) pluginsForSecret(ctx context.Context, o client.Object) []ctrl.Request {
	return reconcile.Requests(ctx, r, &v1alpha1.PluginList{}, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretIndex: o.GetName()})
}

// run is the state of one reconcile, passed between the steps.
type run struct {
	key      wasm.Key
	regOpts  []oci.Option
	digest   name.Digest
	wasm     []byte
	meta     abi.Metadata
	revision string
	headers  map[string]string
	reused   bool
}

// Reconcile brings one Plugin's served module up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := wasm.Key{Namespace: req.Namespace, Name: req.Name}
	obj := &v1alpha1.Plugin{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Catalog.Delete(ctx, key)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		r.Catalog.Delete(ctx, key)
		return ctrl.Result{}, nil
	}
	if obj.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	st := &run{key: key}
	steps := []reconcile.Step[*v1alpha1.Plugin]{
		r.stale(st, r.credentials(st)),
		r.stale(st, r.resolve(st)),
		r.stale(st, r.secrets(st)),
		r.stale(st, r.verify(st)),
		r.stale(st, r.pull(st)),
		r.stale(st, r.load(st)),
	}
	return r.runner.Run(ctx, obj, steps, func(o *v1alpha1.Plugin) reconcile.Outcome {
		msg := fmt.Sprintf("serving %s %s at %s", st.meta.Name, st.meta.Version, st.digest.DigestStr())
		if !st.reused {
			r.Recorder.Eventf(o, corev1.EventTypeNormal, "NewDigest", "verified and compiled %s", st.digest.DigestStr())
		}
		return reconcile.Outcome{Reason: meta.SucceededReason, Message: msg, RequeueAfter: jitter(interval(o))}
	})
}

func interval(o *v1alpha1.Plugin) time.Duration {
	if d := o.Spec.Interval.Duration; d > 0 {
		return d
	}
	return 10 * time.Minute
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/20+1))
}

// stale marks a failure as leaving the previously verified digest in
// service, when there is one, so the status says what still runs.
func (r *Reconciler) stale(st *run, step reconcile.Step[*v1alpha1.Plugin]) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		err := step(ctx, o)
		if err == nil {
			return nil
		}
		if e, ok := r.Catalog.Get(st.key); ok {
			var re *reconcile.Error
			if errors.As(err, &re) {
				return &reconcile.Error{Reason: re.Reason, Stalled: re.Stalled,
					Err: fmt.Errorf("%w (still serving the verified %s)", re.Err, e.Digest)}
			}
			return fmt.Errorf("%w (still serving the verified %s)", err, e.Digest)
		}
		return err
	}
}

func (r *Reconciler) credentials(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		st.regOpts = append([]oci.Option{oci.WithInsecure(o.Spec.Insecure)}, r.RegistryOptions...)
		if o.Spec.SecretRef == nil {
			return nil
		}
		s, err := r.secret(ctx, o.Namespace, o.Spec.SecretRef.Name)
		if err != nil {
			return reconcile.Retry(v1alpha1.AuthenticationFailedReason, err)
		}
		cfg, ok := s.Data[corev1.DockerConfigJsonKey]
		if !ok {
			return reconcile.Stall(v1alpha1.AuthenticationFailedReason,
				fmt.Errorf("secret '%s' has no %s key", s.Name, corev1.DockerConfigJsonKey))
		}
		kc, err := oci.KeychainFromDockerConfig(cfg)
		if err != nil {
			return reconcile.Stall(v1alpha1.AuthenticationFailedReason, fmt.Errorf("secret '%s': %w", s.Name, err))
		}
		st.regOpts = append(st.regOpts, oci.WithKeychain(kc))
		return nil
	}
}

func (r *Reconciler) secret(ctx context.Context, ns, n string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: n}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", ns, n)
		}
		return nil, fmt.Errorf("reading secret '%s/%s': %w", ns, n, err)
	}
	return &s, nil
}

func (r *Reconciler) resolve(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		d, err := oci.Resolve(ctx, strings.TrimPrefix(o.Spec.URL, "oci://"), st.regOpts...)
		if err != nil {
			if r.serveCached(ctx, o, st) {
				return reconcile.Retry(v1alpha1.PullFailedReason, fmt.Errorf("%w (serving the verified %s from the local cache)", err, o.Status.Digest))
			}
			return reconcile.Retry(v1alpha1.PullFailedReason, err)
		}
		st.digest = d
		return nil
	}
}

// secrets reads the notify Secret (its values become request headers) and
// computes the revision the load depends on.
func (r *Reconciler) secrets(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		st.revision = fmt.Sprintf("%s/g%d", st.digest.DigestStr(), o.Generation)
		if o.Spec.Notify == nil || o.Spec.Notify.SecretRef == nil {
			return nil
		}
		s, err := r.secret(ctx, o.Namespace, o.Spec.Notify.SecretRef.Name)
		if err != nil {
			return reconcile.Retry(meta.ReconciliationFailedReason, err)
		}
		st.headers = map[string]string{}
		for k, v := range s.Data {
			st.headers[k] = string(v)
		}
		st.revision += "/s" + s.ResourceVersion
		return nil
	}
}

// verify checks the signatures on the resolved digest. It runs on every
// reconcile: a key removed from the Secret stops a digest from verifying.
func (r *Reconciler) verify(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		s, err := r.secret(ctx, o.Namespace, o.Spec.Verify.SecretRef.Name)
		if err != nil {
			conditions.MarkFalse(o, v1alpha1.SourceVerifiedCondition, v1alpha1.VerificationKeysMissingReason, "%s", err)
			return reconcile.Retry(v1alpha1.VerificationKeysMissingReason, err)
		}
		keys := map[string][]byte{}
		for k, v := range s.Data {
			if strings.HasSuffix(k, ".pub") {
				keys[k] = v
			}
		}
		if len(keys) == 0 {
			err := fmt.Errorf("secret '%s' has no key ending in .pub", s.Name)
			conditions.MarkFalse(o, v1alpha1.SourceVerifiedCondition, v1alpha1.VerificationKeysMissingReason, "%s", err)
			return reconcile.Stall(v1alpha1.VerificationKeysMissingReason, err)
		}
		policy := oci.Policy(o.Spec.Verify.MatchPolicy)
		if policy == "" {
			policy = oci.PolicyAny
		}
		res, err := oci.Verify(ctx, st.digest, keys, policy, st.regOpts...)
		if err != nil {
			if errors.Is(err, oci.ErrNotVerified) {
				conditions.MarkFalse(o, v1alpha1.SourceVerifiedCondition, v1alpha1.VerificationFailedReason, "%s", err)
				return reconcile.Retry(v1alpha1.VerificationFailedReason, err)
			}
			return reconcile.Retry(v1alpha1.PullFailedReason, err)
		}
		slices.Sort(res.Verified)
		conditions.MarkTrue(o, v1alpha1.SourceVerifiedCondition, meta.SucceededReason,
			"verified signature of %s with %s", st.digest.DigestStr(), strings.Join(res.Verified, ", "))
		return nil
	}
}

// pull reads the verified digest, unless that exact revision is loaded.
func (r *Reconciler) pull(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		if e, ok := r.Catalog.Get(st.key); ok && e.Revision == st.revision {
			st.reused = true
			st.meta = e.Plugin.Metadata()
			return nil
		}
		a, err := oci.Pull(ctx, st.digest, r.Limits, st.regOpts...)
		if err != nil {
			if errors.Is(err, oci.ErrNotWasmArtifact) || errors.Is(err, oci.ErrTooLarge) || errors.Is(err, oci.ErrDigestMismatch) {
				return reconcile.Retry(v1alpha1.InvalidArtifactReason, err)
			}
			return reconcile.Retry(v1alpha1.PullFailedReason, err)
		}
		st.wasm = a.Wasm
		return nil
	}
}

// load checks the metadata, compiles and swaps the module in.
func (r *Reconciler) load(st *run) reconcile.Step[*v1alpha1.Plugin] {
	return func(ctx context.Context, o *v1alpha1.Plugin) error {
		if !st.reused {
			m, err := wasm.ReadMetadata(st.wasm)
			if err != nil {
				return reconcile.Retry(v1alpha1.ABIMismatchReason, fmt.Errorf("module metadata: %w", err))
			}
			if err := checkABI(o, m); err != nil {
				return reconcile.Retry(v1alpha1.ABIMismatchReason, err)
			}
			spec, err := loadSpec(o, st)
			if err != nil {
				return reconcile.Stall("InvalidConfig", err)
			}
			p, err := r.Host.Load(ctx, spec)
			if err != nil {
				return reconcile.Retry(v1alpha1.CompileFailedReason, err)
			}
			st.meta = p.Metadata()
			r.keep(st.digest.DigestStr(), st.wasm)
			r.Catalog.Set(ctx, st.key, wasm.Entry{Plugin: p, Digest: st.digest.DigestStr(), Revision: st.revision})
		}
		o.Status.Digest = st.digest.DigestStr()
		o.Status.ABIVersion = st.meta.ABIVersion
		o.Status.Capabilities = capabilities(st.meta)
		return nil
	}
}

func capabilities(m abi.Metadata) []string {
	out := make([]string, len(m.Capabilities))
	for i, c := range m.Capabilities {
		out[i] = string(c)
	}
	slices.Sort(out)
	return out
}

// checkABI refuses a module of another ABI version or one that lacks a
// capability the spec uses.
func checkABI(o *v1alpha1.Plugin, m abi.Metadata) error {
	if m.ABIVersion != abi.Version {
		return fmt.Errorf("module declares ABI %q, this engine speaks %q", m.ABIVersion, abi.Version)
	}
	has := capabilities(m)
	need := map[string]bool{
		v1alpha1.CapabilityTransform: o.Spec.Transform != nil,
		v1alpha1.CapabilityHealth:    o.Spec.Health != nil,
		v1alpha1.CapabilityNotify:    o.Spec.Notify != nil,
	}
	for _, c := range []string{v1alpha1.CapabilityTransform, v1alpha1.CapabilityHealth, v1alpha1.CapabilityNotify} {
		if need[c] && !slices.Contains(has, c) {
			return fmt.Errorf("spec.%s is set but the module's capabilities are [%s]", c, strings.Join(has, ", "))
		}
	}
	return nil
}

// loadSpec maps the Plugin's spec to the host's.
func loadSpec(o *v1alpha1.Plugin, st *run) (wasm.Spec, error) {
	spec := wasm.Spec{Key: st.key, Wasm: st.wasm, HTTPHeaders: st.headers}
	if l := o.Spec.Limits; l != nil {
		if l.Timeout != nil {
			spec.Limits.Timeout = l.Timeout.Duration
		}
		if l.Memory != nil {
			spec.Limits.MemoryPages = uint32(max(l.Memory.Value()/65536, 1))
		}
		if l.MaxOutputBytes != nil {
			spec.Limits.MaxOutputBytes = int(*l.MaxOutputBytes)
		}
		if l.Instances != nil {
			spec.Limits.MaxInstances = int(*l.Instances)
		}
	}
	if o.Spec.Config != nil && len(o.Spec.Config.Raw) > 0 {
		if err := json.Unmarshal(o.Spec.Config.Raw, &spec.Config); err != nil {
			return spec, fmt.Errorf("spec.config must be a JSON object: %w", err)
		}
	}
	if n := o.Spec.Notify; n != nil {
		for _, h := range n.AllowedHosts {
			hp, err := allowedHost(h)
			if err != nil {
				return spec, err
			}
			spec.AllowedHosts = append(spec.AllowedHosts, hp)
		}
	}
	return spec, nil
}

// allowedHost turns scheme://host[:port] into the host's host:port form.
func allowedHost(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("allowedHosts entry %q must be http(s)://host[:port]", s)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Hostname() + ":" + port, nil
}

// keep stores a verified module by digest for serveCached.
func (r *Reconciler) keep(digest string, b []byte) {
	if r.ModuleDir == "" {
		return
	}
	if err := os.MkdirAll(r.ModuleDir, 0o755); err != nil {
		return
	}
	p := filepath.Join(r.ModuleDir, strings.ReplaceAll(digest, ":", "-")+".wasm")
	tmp := p + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		_ = os.Rename(tmp, p)
	}
}

// serveCached loads the module of status.digest from ModuleDir when nothing
// serves yet (a restart with the registry down). Only modules that were
// verified under the current generation qualify.
func (r *Reconciler) serveCached(ctx context.Context, o *v1alpha1.Plugin, st *run) bool {
	if r.ModuleDir == "" || o.Status.Digest == "" || o.Status.ObservedGeneration != o.Generation {
		return false
	}
	if _, ok := r.Catalog.Get(st.key); ok {
		return false
	}
	b, err := os.ReadFile(filepath.Join(r.ModuleDir, strings.ReplaceAll(o.Status.Digest, ":", "-")+".wasm"))
	if err != nil {
		return false
	}
	st.wasm = b
	spec, err := loadSpec(o, st)
	if err != nil {
		return false
	}
	p, err := r.Host.Load(ctx, spec)
	if err != nil {
		return false
	}
	r.Catalog.Set(ctx, st.key, wasm.Entry{Plugin: p, Digest: o.Status.Digest, Revision: "cached"})
	return true
}
