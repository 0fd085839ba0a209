package engine

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
)

// setupStages registers the controllers of every stage with the manager.
// Stages are added here as they are built; the manager runs with whatever is
// registered.
func (e *Engine) setupStages(_ context.Context, _ ctrl.Manager) error {
	return nil
}
