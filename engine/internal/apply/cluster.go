package apply

import (
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"k8s.io/apimachinery/pkg/api/meta"
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

	// id names the cluster and identity in the ledger.
	id           string
	ledger       *Ledger
	fingerprints LiveFingerprints
	concurrency  int
}

// ClusterOptions build a Cluster.
type ClusterOptions struct {
	// ID names the cluster and identity: objects applied as one identity
	// are not taken as applied for another.
	ID string
	// Ledger and Fingerprints let unchanged objects skip the apply (see
	// Ledger). Either nil: every object takes the full path.
	Ledger       *Ledger
	Fingerprints LiveFingerprints
	Local        bool
	Cached       bool
	Account      string
	// Concurrency is how many objects are read and dry-run at once
	// (Flux's --concurrent-ssa), and how many new objects of one kind are
	// created at once; below 1, one at a time.
	Concurrency int
}

// NewCluster returns a Cluster that acts through c.
func NewCluster(c client.Client, mapper meta.RESTMapper, opts ClusterOptions) *Cluster {
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	rm := ssa.NewResourceManager(recordingClient{c}, poller, Owner)
	rm.SetConcurrency(max(opts.Concurrency, 1))
	cl := &Cluster{RM: rm, Reader: c, Local: opts.Local, Cached: opts.Cached, Account: opts.Account, id: opts.ID,
		concurrency: max(opts.Concurrency, 1)}
	if opts.Ledger != nil && opts.Fingerprints != nil {
		cl.ledger, cl.fingerprints = opts.Ledger, opts.Fingerprints
	}
	return cl
}
