package apply

import (
	"github.com/fluxcd/pkg/ssa"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Cluster is where a Kustomization's objects live and who acts on them.
type Cluster struct {
	RM *ssa.ResourceManager
	// Reader reads live objects as the acting identity.
	Reader client.Reader
	// Local: the engine's own cluster, whose watches can requeue waits.
	Local bool
	// Cached: the engine's own cluster and identity, so reads may use the
	// shared informer cache.
	Cached bool
	// Account is the impersonated service account, empty when none.
	Account string
}
