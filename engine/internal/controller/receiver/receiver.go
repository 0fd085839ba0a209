package receiver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
	"github.com/weir-gitops/weir/engine/internal/webhook"
)

// Index names of the fields the controller and the webhook server look up.
const (
	WebhookPathIndex = ".status.webhookPath"
	secretIndex      = ".spec.secretRef.name"
	// FieldOwner is the field manager of status patches, as Flux names it.
	FieldOwner = "notification-controller"
	tokenKey   = "token"
)

// Options configure the Receiver controller.
type Options struct {
	Concurrent           int
	NoCrossNamespaceRefs bool
}

// Reconciler reconciles Receivers.
type Reconciler struct {
	client.Client
	Recorder record.EventRecorder
	Options
	runner *reconcile.Runner[*notificationv1.Receiver]
}

// SetupWithManager registers the controller and its indexes.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &notificationv1.Receiver{}, WebhookPathIndex, func(o client.Object) []string {
		if p := o.(*notificationv1.Receiver).Status.WebhookPath; p != "" {
			return []string{p}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing receivers by webhook path: %w", err)
	}
	if err := idx.IndexField(ctx, &notificationv1.Receiver{}, secretIndex, func(o client.Object) []string {
		if ref := o.(*notificationv1.Receiver).Spec.SecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing receivers by secret: %w", err)
	}
	r.runner = &reconcile.Runner[*notificationv1.Receiver]{
		Client: r.Client, Recorder: r.Recorder, FieldOwner: FieldOwner,
		Handled: func(o *notificationv1.Receiver, v string) { o.Status.LastHandledReconcileAt = v },
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&notificationv1.Receiver{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.receiversForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Concurrent, 1)}).
		Complete(r)
}

func (r *Reconciler) receiversForSecret(ctx context.Context, o client.Object) []ctrl.Request {
	return reconcile.Requests(ctx, r, &notificationv1.ReceiverList{}, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretIndex: o.GetName()})
}

// Reconcile derives the webhook path of one Receiver.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &notificationv1.Receiver{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if obj.Spec.Suspend || !obj.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	var path string
	steps := []reconcile.Step[*notificationv1.Receiver]{
		r.validate,
		func(ctx context.Context, o *notificationv1.Receiver) error {
			token, err := r.token(ctx, o)
			if err != nil {
				return err
			}
			path = o.GetWebhookPath(token)
			o.Status.WebhookPath = path
			return nil
		},
	}
	return r.runner.Run(ctx, obj, steps, func(o *notificationv1.Receiver) reconcile.Outcome {
		return reconcile.Outcome{
			Reason:       meta.SucceededReason,
			Message:      "Receiver initialized for path: " + path,
			RequeueAfter: o.GetInterval(),
		}
	})
}

func (r *Reconciler) validate(_ context.Context, o *notificationv1.Receiver) error {
	if o.Spec.Type == notificationv1.GenericOIDCReceiver {
		if len(o.Spec.OIDCProviders) == 0 {
			return reconcile.Stall(notificationv1.ValidationFailedReason, errors.New("generic-oidc receivers must define at least one oidcProvider"))
		}
		for i, p := range o.Spec.OIDCProviders {
			if err := webhook.ValidateOIDCProvider(p); err != nil {
				return reconcile.Stall(notificationv1.ValidationFailedReason, fmt.Errorf("spec.oidcProviders[%d]: %w", i, err))
			}
		}
	}
	if _, err := compileFilter(o.Spec.ResourceFilter); err != nil {
		return reconcile.Stall(notificationv1.ValidationFailedReason, fmt.Errorf("spec.resourceFilter: %w", err))
	}
	for i, res := range o.Spec.Resources {
		if _, err := compileFilter(res.Filter); err != nil {
			return reconcile.Stall(notificationv1.ValidationFailedReason, fmt.Errorf("spec.resources[%d].filter: %w", i, err))
		}
	}
	if o.Spec.Type != notificationv1.GenericOIDCReceiver && (o.Spec.SecretRef == nil || o.Spec.SecretRef.Name == "") {
		return reconcile.Stall(notificationv1.ValidationFailedReason, errors.New("spec.secretRef is required for this receiver type"))
	}
	if r.NoCrossNamespaceRefs {
		for _, res := range o.Spec.Resources {
			if res.Namespace != "" && res.Namespace != o.Namespace {
				return reconcile.Stall(acl.AccessDeniedReason, fmt.Errorf("cross-namespace references are not allowed: %s/%s/%s", res.Kind, res.Namespace, res.Name))
			}
		}
	}
	return nil
}

// token reads the Receiver's token; a generic-oidc Receiver has none (its
// callers present ID tokens), so its path hashes only name and namespace.
func (r *Reconciler) token(ctx context.Context, o *notificationv1.Receiver) (string, error) {
	if o.Spec.Type == notificationv1.GenericOIDCReceiver {
		return "", nil
	}
	key := types.NamespacedName{Namespace: o.Namespace, Name: o.Spec.SecretRef.Name}
	var s corev1.Secret
	if err := r.Get(ctx, key, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", reconcile.Retry(notificationv1.TokenNotFoundReason, fmt.Errorf("unable to read token from secret '%s': secret not found", key))
		}
		return "", reconcile.Retry(notificationv1.TokenNotFoundReason, fmt.Errorf("unable to read token from secret '%s': %w", key, err))
	}
	token := strings.TrimSpace(string(s.Data[tokenKey]))
	if token == "" {
		return "", reconcile.Retry(notificationv1.TokenNotFoundReason, fmt.Errorf("invalid '%s' secret data: the '%s' field is missing or empty", key, tokenKey))
	}
	return token, nil
}
