package engine

import (
	"context"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weir-gitops/weir/engine/internal/controller/receiver"
)

// setupStages registers the controllers of every stage with the manager.
func (e *Engine) setupStages(ctx context.Context, mgr ctrl.Manager) error {
	rcv := &receiver.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor(receiver.FieldOwner),
		Options:  receiver.Options{Concurrent: e.cfg.Concurrent, NoCrossNamespaceRefs: e.cfg.NoCrossNamespaceRefs},
	}
	if err := rcv.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the Receiver controller: %w", err)
	}
	return nil
}
