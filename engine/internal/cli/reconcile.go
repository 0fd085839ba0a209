package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrSuspended is returned when asked to reconcile a suspended object.
var ErrSuspended = errors.New("is suspended; resume it first")

// ErrNotReady is returned when a reconciliation ended with Ready=False.
var ErrNotReady = errors.New("reconciliation failed")

// Reconcile asks the controller to reconcile the object now and waits,
// within timeout, until it has handled the request and Ready is known.
// The request is the reconcile.fluxcd.io/requestedAt annotation set to the
// current time, the same one a Receiver or the flux CLI sets.
func (c *Console) Reconcile(ctx context.Context, k Kind, key types.NamespacedName, timeout time.Duration) error {
	obj := k.newObject()
	if err := c.kube.Get(ctx, key, obj); err != nil {
		return fmt.Errorf("getting %s %s: %w", k.Kind, key, err)
	}
	if k.status(obj).Suspended {
		return fmt.Errorf("%s %s %w", k.Kind, key, ErrSuspended)
	}
	fmt.Fprintf(c.err, "► annotating %s\n", ref(k.Kind, key.Namespace, key.Name))
	token, err := c.request(ctx, k, key, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.err, "✔ %s annotated\n", k.Kind)
	return c.wait(ctx, k, key, token, timeout)
}

// ReconcileWithSource reconciles the Kustomization's GitRepository first,
// then the Kustomization, as flux reconcile ks --with-source does.
func (c *Console) ReconcileWithSource(ctx context.Context, key types.NamespacedName, timeout time.Duration) error {
	ks := &kustomizev1.Kustomization{}
	if err := c.kube.Get(ctx, key, ks); err != nil {
		return fmt.Errorf("getting Kustomization %s: %w", key, err)
	}
	if ks.Spec.Suspend {
		// Checked before the source is touched, not only after it.
		return fmt.Errorf("Kustomization %s %w", key, ErrSuspended)
	}
	src := ks.Spec.SourceRef
	if src.Kind != sourcev1.GitRepositoryKind {
		return fmt.Errorf("the source of Kustomization %s is a %s; only GitRepository sources are reconciled here", key, src.Kind)
	}
	srcKey := types.NamespacedName{Namespace: src.Namespace, Name: src.Name}
	if srcKey.Namespace == "" {
		srcKey.Namespace = key.Namespace
	}
	git, err := LookupKind(sourcev1.GitRepositoryKind)
	if err != nil {
		return err
	}
	if err := c.Reconcile(ctx, git, srcKey, timeout); err != nil {
		return err
	}
	ksKind, err := LookupKind(kustomizev1.KustomizationKind)
	if err != nil {
		return err
	}
	return c.Reconcile(ctx, ksKind, key, timeout)
}

// Suspend sets spec.suspend so that the controller stops reconciling the
// object.
func (c *Console) Suspend(ctx context.Context, k Kind, key types.NamespacedName) error {
	fmt.Fprintf(c.err, "► suspending %s\n", ref(k.Kind, key.Namespace, key.Name))
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"suspend": true}})
	if err != nil {
		return fmt.Errorf("encoding the patch: %w", err)
	}
	if err := c.patch(ctx, k, key, body); err != nil {
		return err
	}
	fmt.Fprintf(c.err, "✔ %s suspended\n", k.Kind)
	return nil
}

// Resume clears spec.suspend and, in the same patch, requests a
// reconciliation; with wait it then waits for it like Reconcile.
func (c *Console) Resume(ctx context.Context, k Kind, key types.NamespacedName, wait bool, timeout time.Duration) error {
	fmt.Fprintf(c.err, "► resuming %s\n", ref(k.Kind, key.Namespace, key.Name))
	token, err := c.request(ctx, k, key, map[string]any{"suspend": false})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.err, "✔ %s resumed\n", k.Kind)
	if !wait {
		return nil
	}
	return c.wait(ctx, k, key, token, timeout)
}

// request merge-patches the requestedAt annotation (and spec, when given)
// and returns the token the controller must echo.
func (c *Console) request(ctx context.Context, k Kind, key types.NamespacedName, spec map[string]any) (string, error) {
	token := c.now().Format(time.RFC3339Nano)
	p := map[string]any{"metadata": map[string]any{"annotations": map[string]string{meta.ReconcileRequestAnnotation: token}}}
	if spec != nil {
		p["spec"] = spec
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encoding the patch: %w", err)
	}
	return token, c.patch(ctx, k, key, body)
}

func (c *Console) patch(ctx context.Context, k Kind, key types.NamespacedName, body []byte) error {
	obj := k.newObject()
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	// A merge patch on a missing object fails with NotFound; it never creates.
	if err := c.kube.Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("patching %s %s: %w", k.Kind, key, err)
	}
	return nil
}

// wait polls the object until status.lastHandledReconcileAt equals token,
// the controller has observed the current generation and Ready is True or
// False.
func (c *Console) wait(ctx context.Context, k Kind, key types.NamespacedName, token string, timeout time.Duration) error {
	fmt.Fprintf(c.err, "◎ waiting for %s reconciliation\n", k.Kind)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(c.poll)
	defer tick.Stop()
	var (
		last    *metav1.Condition
		lastErr error
	)
	for {
		obj := k.newObject()
		switch err := c.kube.Get(ctx, key, obj); {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%s %s was deleted while waiting: %w", k.Kind, key, err)
		case err != nil:
			// A failed read (a network blip, the client's rate limiter near
			// the deadline) is retried until the timeout.
			lastErr = err
		default:
			st := k.status(obj)
			ready := apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition)
			if ready != nil {
				last = ready
			}
			if st.LastHandledReconcileAt == token && st.ObservedGeneration >= obj.GetGeneration() &&
				ready != nil && ready.Status != metav1.ConditionUnknown {
				return c.done(k, key, st, ready)
			}
		}
		select {
		case <-ctx.Done():
			msg := "no Ready condition yet"
			if last != nil {
				msg = fmt.Sprintf("Ready=%s: %s", last.Status, oneLine(last.Message))
			}
			if lastErr != nil {
				msg += "; last read failed: " + oneLine(lastErr.Error())
			}
			return fmt.Errorf("timed out after %s waiting for %s %s to be reconciled (%s): %w", timeout, k.Kind, key, msg, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Console) done(k Kind, key types.NamespacedName, st Status, ready *metav1.Condition) error {
	if ready.Status == metav1.ConditionFalse {
		return fmt.Errorf("%s %s: %w: %s", k.Kind, key, ErrNotReady, oneLine(ready.Message))
	}
	fmt.Fprintf(c.err, "✔ %s reconciliation completed\n", k.Kind)
	if k.HasRevision() && st.Revision != "" {
		fmt.Fprintf(c.err, "✔ %s revision %s\n", k.RevisionVerb, st.Revision)
	}
	return nil
}
