package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Object is a kind the engine reconciles: a client.Object with conditions.
type Object interface {
	conditions.Setter
}

// Error is a step's failure and the Ready reason it is reported with.
type Error struct {
	Reason string
	Err    error
	// Stalled failures need a spec or Secret change; they are not retried
	// until the object changes.
	Stalled bool
	// Quiet failures record no warning event: they are an expected wait
	// that a watch ends, which Ready=False and the log already tell.
	Quiet bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Retry wraps err as a failure that is retried with backoff.
func Retry(reason string, err error) error { return &Error{Reason: reason, Err: err} }

// Wait wraps err as a retried failure that a watch normally ends, such as
// a source without an artifact yet: Ready becomes False with reason, but no
// warning event is recorded, as Flux records none for it.
func Wait(reason string, err error) error { return &Error{Reason: reason, Err: err, Quiet: true} }

// Stall wraps err as a failure that waits for the object to change.
func Stall(reason string, err error) error { return &Error{Reason: reason, Err: err, Stalled: true} }

// PendingError says the reconcile is progressing and must wait: Ready
// becomes Unknown with Reason and the message, Reconciling stays True, no
// warning event is recorded and the object is requeued after After (a
// safety net: watches usually requeue it sooner).
type PendingError struct {
	Reason string
	Msg    string
	After  time.Duration
}

func (e *PendingError) Error() string { return e.Msg }

// Pending returns a PendingError.
func Pending(reason, msg string, after time.Duration) error {
	return &PendingError{Reason: reason, Msg: msg, After: after}
}

// Step is one ordered piece of a reconcile. It may set conditions of its
// own on obj; Ready is summarized by Run.
type Step[T Object] func(ctx context.Context, obj T) error

// Outcome describes a successful reconcile for the Ready condition.
type Outcome struct {
	Reason  string
	Message string
	// RequeueAfter schedules the next reconcile; zero means only on change.
	RequeueAfter time.Duration
	// Announced: a step already recorded an event that tells this
	// outcome, so becoming Ready records none.
	Announced bool
}

// Runner runs steps for one kind.
type Runner[T Object] struct {
	Client     client.Client
	Recorder   record.EventRecorder
	FieldOwner string
	// Handled records a handled reconcile request (requestedAt) on obj.
	Handled func(obj T, value string)
}

// Run executes steps in order and patches the status once. done computes
// the Ready outcome after every step succeeded.
// BeforePatch runs after the steps and the Ready summary, just before the
// status patch, on success and failure alike (e.g. to record history).
type BeforePatch[T Object] func(obj T)

func (r *Runner[T]) Run(ctx context.Context, obj T, steps []Step[T], done func(T) Outcome, before ...BeforePatch[T]) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	orig := obj.DeepCopyObject().(client.Object)
	wasReady := conditions.IsReady(obj)
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok && r.Handled != nil {
		r.Handled(obj, v)
	}
	conditions.MarkReconciling(obj, meta.ProgressingReason, "reconciliation in progress")
	defer func() {
		for _, f := range before {
			f(obj)
		}
		if err := r.patchStatus(ctx, orig, obj); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching status: %w", client.IgnoreNotFound(err))})
		}
	}()

	for _, step := range steps {
		if err := step(ctx, obj); err != nil {
			var pe *PendingError
			if errors.As(err, &pe) {
				conditions.MarkUnknown(obj, meta.ReadyCondition, pe.Reason, "%s", pe.Msg)
				conditions.MarkReconciling(obj, pe.Reason, "%s", pe.Msg)
				return ctrl.Result{RequeueAfter: pe.After}, nil
			}
			var se *Error
			if !errors.As(err, &se) {
				se = &Error{Reason: meta.ReconciliationFailedReason, Err: err}
			}
			conditions.MarkFalse(obj, meta.ReadyCondition, se.Reason, "%s", se.Err.Error())
			if !se.Quiet {
				r.event(obj, corev1.EventTypeWarning, se.Reason, se.Err.Error())
			}
			if se.Stalled {
				conditions.MarkStalled(obj, se.Reason, "%s", se.Err.Error())
				conditions.Delete(obj, meta.ReconcilingCondition)
				log.Info("reconciliation stalled", "reason", se.Reason, "error", se.Err.Error())
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, se
		}
	}
	out := done(obj)
	conditions.MarkTrue(obj, meta.ReadyCondition, out.Reason, "%s", out.Message)
	conditions.Delete(obj, meta.ReconcilingCondition)
	conditions.Delete(obj, meta.StalledCondition)
	if !wasReady && !out.Announced {
		r.event(obj, corev1.EventTypeNormal, out.Reason, out.Message)
	}
	return ctrl.Result{RequeueAfter: out.RequeueAfter}, nil
}

// patchStatus writes what the reconcile changed in obj's status since orig
// in one merge patch, with status.observedGeneration set to the
// generation; nothing is sent when nothing changed. The engine is the only
// writer of these objects' status, so the conditions need no three-way
// merge (fluxcd/pkg/runtime's patch helper sends them in a second
// request).
func (r *Runner[T]) patchStatus(ctx context.Context, orig client.Object, obj T) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedField(u, obj.GetGeneration(), "status", "observedGeneration"); err != nil {
		return err
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, obj); err != nil {
		return err
	}
	p := client.MergeFrom(orig)
	data, err := p.Data(obj)
	if err != nil {
		return err
	}
	if string(data) == "{}" {
		return nil
	}
	// The patch as computed: MergeFrom would diff the whole object again
	// (with a 5,000-entry inventory, a few milliseconds each time).
	return r.Client.Status().Patch(ctx, obj, client.RawPatch(p.Type(), data), client.FieldOwner(r.FieldOwner))
}

func (r *Runner[T]) event(obj T, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Event(obj, typ, reason, msg)
	}
}
