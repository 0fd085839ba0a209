package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/artifact"
	"github.com/weir-gitops/weir/engine/internal/controller/gitrepository"
	"github.com/weir-gitops/weir/engine/internal/controller/kustomization"
	plugincontroller "github.com/weir-gitops/weir/engine/internal/controller/plugin"
	"github.com/weir-gitops/weir/engine/internal/controller/receiver"
	"github.com/weir-gitops/weir/engine/internal/notify"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/source/git"
	"github.com/weir-gitops/weir/engine/internal/webhook"
)

// setupStages registers the controllers of every stage, and the artifact
// server, with the manager.
func (e *Engine) setupStages(ctx context.Context, mgr ctrl.Manager) error {
	if err := os.MkdirAll(e.cfg.StoragePath, 0o755); err != nil {
		return fmt.Errorf("creating --storage-path: %w", err)
	}
	catalog, err := e.setupPlugins(ctx, mgr)
	if err != nil {
		return err
	}
	events, err := notify.New(mgr.GetClient(), catalog, notify.Options{}, metrics.Registry, e.log.WithName("notify"))
	if err != nil {
		return err
	}
	if err := mgr.Add(events); err != nil {
		return fmt.Errorf("adding the notification dispatcher: %w", err)
	}
	recorder := func(name string) record.EventRecorder {
		return events.Recorder(mgr.GetEventRecorderFor(name), name, mgr.GetScheme())
	}
	storage, err := artifact.NewStorage(e.cfg.StoragePath, "http://"+e.cfg.AdvertisedStorageAddr())
	if err != nil {
		return err
	}
	if err := mgr.Add(httpServer("artifacts", e.cfg.StorageAddr, storage.Handler())); err != nil {
		return fmt.Errorf("adding the artifact server: %w", err)
	}
	git := &gitrepository.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: recorder(gitrepository.FieldOwner),
		Fetcher:  git.Client{},
		Storage:  storage,
		Options: gitrepository.Options{Concurrent: e.cfg.Concurrent, ArtifactRetention: 2, JitterPercent: 5,
			Selector: e.cfg.watchSelector()},
	}
	if err := git.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the GitRepository controller: %w", err)
	}
	// Fingerprints of applied objects, so unchanged objects are
	// not applied again at every interval (apply.Ledger).
	var fingerprints apply.LiveFingerprints
	var cacheNamespaces []string
	if e.cfg.WatchNamespace != "" {
		cacheNamespaces = []string{e.cfg.WatchNamespace}
	}
	if e.cfg.ApplyLedger {
		f, err := apply.NewCachedFingerprints(mgr, cacheNamespaces)
		if err != nil {
			return fmt.Errorf("setting up the applied objects' cache: %w", err)
		}
		if err := mgr.Add(f); err != nil {
			return err
		}
		fingerprints = f
	}
	ks := &kustomization.Reconciler{
		Plugins:  catalog,
		Client:   mgr.GetClient(),
		Recorder: recorder(kustomization.FieldOwner),
		Options: kustomization.Options{Concurrent: e.cfg.Concurrent, ConcurrentSSA: e.cfg.ConcurrentSSA, NoCrossNamespaceRefs: e.cfg.NoCrossNamespaceRefs,
			NoRemoteBases: e.cfg.NoRemoteBases, DefaultServiceAccount: e.cfg.DefaultServiceAccount, StrictSubstitutions: e.cfg.StrictPostBuildSubstitutions,
			InsecureKubeConfigExec: e.cfg.InsecureKubeConfigExec, InsecureKubeConfigTLS: e.cfg.InsecureKubeConfigTLS,
			ObjectLevelWorkloadIdentity: e.cfg.ObjectLevelWorkloadIdentity, Fingerprints: fingerprints, NoLedger: !e.cfg.ApplyLedger,
			CacheNamespaces: cacheNamespaces,
			HistoryRefresh:  e.cfg.HistoryRefresh,
			// Artifacts of this engine's storage are read in process.
			OpenArtifact: storage.OpenLocal},
	}
	if err := ks.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the Kustomization controller: %w", err)
	}
	rcv := &receiver.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: recorder(receiver.FieldOwner),
		Options:  receiver.Options{Concurrent: e.cfg.Concurrent, NoCrossNamespaceRefs: e.cfg.NoCrossNamespaceRefs},
	}
	if err := rcv.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the Receiver controller: %w", err)
	}
	return e.setupReceiverServer(mgr)
}

// setupPlugins starts the Wasm host and the Plugin controller, and returns
// the catalog of verified, compiled plugins the stages call.
func (e *Engine) setupPlugins(ctx context.Context, mgr ctrl.Manager) (*wasm.Catalog, error) {
	compiled := filepath.Join(e.cfg.PluginCacheDir, "compiled")
	if err := os.MkdirAll(compiled, 0o755); err != nil {
		return nil, fmt.Errorf("creating --plugin-cache-dir: %w", err)
	}
	host, err := wasm.NewHost(wasm.Options{CacheDir: compiled, Registerer: metrics.Registry, Logger: e.log.WithName("plugin")})
	if err != nil {
		return nil, fmt.Errorf("starting the plugin host: %w", err)
	}
	catalog := wasm.NewCatalog()
	// The host lives as long as the manager: close it when the manager stops.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return host.Close(context.Background())
	})); err != nil {
		return nil, err
	}
	pc := &plugincontroller.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor(plugincontroller.FieldOwner),
		Host:     host,
		Catalog:  catalog,
		Options: plugincontroller.Options{Concurrent: e.cfg.Concurrent,
			ModuleDir: filepath.Join(e.cfg.PluginCacheDir, "modules")},
	}
	if err := pc.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("setting up the Plugin controller: %w", err)
	}
	return catalog, nil
}

// setupReceiverServer serves /hook/ on --receiver-addr: lookups go through
// the cache index on status.webhookPath, triggers patch the targets.
func (e *Engine) setupReceiverServer(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	lookup := func(ctx context.Context, path string) (*webhook.Target, error) {
		rcv, cred, err := receiver.Lookup(ctx, c, path)
		if err != nil || rcv == nil {
			return nil, err
		}
		return &webhook.Target{Namespace: rcv.Namespace, Name: rcv.Name, Type: rcv.Spec.Type,
			Token: cred.Token, Email: cred.Email, Audience: cred.Audience,
			Events: rcv.Spec.Events, Suspended: rcv.Spec.Suspend, OIDCProviders: rcv.Spec.OIDCProviders}, nil
	}
	// Triggers that do not read the request are coalesced per Receiver: a
	// burst of webhooks patches each target twice, not once per request.
	var bursts receiver.Coalescer
	trigger := func(ctx context.Context, t *webhook.Target) error {
		rcv := &notificationv1.Receiver{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: t.Name}, rcv); err != nil {
			return fmt.Errorf("reading the receiver: %w", err)
		}
		run := func() error {
			_, err := receiver.Trigger(ctx, c, rcv, e.cfg.NoCrossNamespaceRefs, time.Now(), t.Body, t.Claims)
			return err
		}
		if receiver.ReadsRequest(rcv) {
			return run()
		}
		return bursts.Do(t.Namespace+"/"+t.Name, run)
	}
	h, err := webhook.NewHandler(lookup, trigger, e.log.WithName("receiver"), metrics.Registry)
	if err != nil {
		return err
	}
	srv := webhook.NewServer(e.cfg.ReceiverAddr, h)
	if err := mgr.Add(&server{name: "receiver", srv: srv}); err != nil {
		return fmt.Errorf("adding the receiver server: %w", err)
	}
	return nil
}

// httpServer runs h on addr for as long as the manager runs, on every
// replica (artifacts must be served by standbys too).
func httpServer(name, addr string, h http.Handler) manager.Runnable {
	return &server{name: name, srv: &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}}
}

type server struct {
	name string
	srv  *http.Server
}

// NeedLeaderElection is false: every replica serves.
func (s *server) NeedLeaderElection() bool { return false }

func (s *server) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("%s server: %w", s.name, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(l) }()
	ctrl.LoggerFrom(ctx).Info("serving", "server", s.name, "addr", l.Addr().String())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s server: %w", s.name, err)
	}
}
