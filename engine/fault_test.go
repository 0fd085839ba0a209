package engine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// TestFaultAPIServerDownAndBack takes the API server away from a running
// engine in the middle of a reconcile (while it applies the first object)
// for ten seconds, makes a change it cannot see meanwhile, and brings the
// API server back: the engine's failed requests while it was gone stay few
// (it backs off rather than spinning), and the change is applied once it is
// back.
func TestFaultAPIServerDownAndBack(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	proxy := newAPIProxy(t)
	held := make(chan struct{})
	var once sync.Once
	proxy.setIntercept(func(r *http.Request) bool {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/namespaces/"+ns+"/configmaps/") && !r.URL.Query().Has("dryRun") {
			once.Do(func() { close(held) })
			<-r.Context().Done() // until the proxy drops the connection
		}
		return false
	})
	e := startReplica(t, buildEngine(t), "engine", "--kubeconfig", proxy.kubeconfig(t), "--watch-namespace", ns)
	url, commit := appRepo(t, "one")
	createApp(t, g, ns, url)
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("the engine never applied")
	}

	failed := func() float64 {
		v, err := e.metric("rest_client_requests_total", `code="<error>"`)
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	before := failed()
	proxy.stop()
	proxy.setIntercept(nil)
	commit("two")
	annotate(t, g, ns, "app") // the test's own client reaches the API server
	const outage = 10 * time.Second
	time.Sleep(outage)
	during := failed() - before
	t.Logf("failed requests during a %s outage: %.0f", outage, during)
	// Every informer and every failing reconcile retries with exponential
	// backoff: a few dozen attempts. A reconcile or watch retrying without
	// backoff would make thousands.
	g.Expect(during).To(BeNumerically(">", 0), "the engine did not notice the outage")
	g.Expect(during).To(BeNumerically("<", 300))

	proxy.start()
	g.Eventually(configMapValue(ns), 60*time.Second, 200*time.Millisecond).Should(Equal("two"))
	g.Eventually(kustomizationReady(ns, "app"), 30*time.Second, 200*time.Millisecond).Should(BeTrue())
}

// TestFaultStatusConflicts answers the engine's first status writes of a
// Kustomization with 409 Conflict, while another writer adds a condition
// of its own: the engine retries, ends Ready with its inventory, and the
// other writer's condition is kept.
func TestFaultStatusConflicts(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	proxy := newAPIProxy(t)
	const conflicts = 3
	var mu sync.Mutex
	var refused, passed int
	statusPath := "/namespaces/" + ns + "/kustomizations/app/status"
	proxy.setIntercept(func(r *http.Request) bool {
		if r.Method == http.MethodGet || !strings.HasSuffix(r.URL.Path, statusPath) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if refused == conflicts {
			passed++
			return false
		}
		refused++
		if refused == 1 {
			// The write that "won": someone else's condition.
			k := &kustomizev1.Kustomization{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, k); err != nil {
				t.Errorf("reading the Kustomization: %v", err)
				return true
			}
			conditions.MarkTrue(k, "Audited", "Checked", "by another controller")
			if err := env.Client.Status().Update(ctx, k); err != nil {
				t.Errorf("writing the other condition: %v", err)
			}
		}
		return true
	})
	startReplica(t, buildEngine(t), "engine", "--kubeconfig", proxy.kubeconfig(t), "--watch-namespace", ns)
	url, _ := appRepo(t, "one")
	createApp(t, g, ns, url)
	g.Eventually(kustomizationReady(ns, "app"), 60*time.Second, 200*time.Millisecond).Should(BeTrue())

	k := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, k)).To(Succeed())
	mu.Lock()
	g.Expect(refused).To(Equal(conflicts))
	g.Expect(passed).To(BeNumerically(">", 0))
	mu.Unlock()
	g.Expect(conditions.IsTrue(k, "Audited")).To(BeTrue(), "the other writer's condition was lost")
	g.Expect(conditions.GetMessage(k, meta.ReadyCondition)).To(HavePrefix("Applied revision: main@sha1:"))
	g.Expect(k.Status.LastAppliedRevision).To(HavePrefix("main@sha1:"))
	g.Expect(k.Status.Inventory).NotTo(BeNil())
	g.Expect(k.Status.Inventory.Entries).To(HaveLen(1))
	g.Expect(configMapValue(ns)()).To(Equal("one"))
}

// TestFaultStopMidApply stops the leader while it is applying a
// Kustomization of 40 ConfigMaps, after the first 10 (the API proxy holds
// the rest), with SIGKILL or SIGTERM. SIGTERM ends the process cleanly
// within its grace period and releases the Lease. Then a new replica takes
// over: it applies the rest without rewriting the 10 that exist, records
// all 40 in the inventory, and deleting the Kustomization leaves none
// behind.
func TestFaultStopMidApply(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { testStopMidApply(t, sig) })
	}
}

func testStopMidApply(t *testing.T, sig syscall.Signal) {
	const total, first = 40, 10
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	var docs []string
	for i := range total {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%02d}\ndata: {i: \"%d\"}\n", i, i))
	}
	git := testenv.NewGitServer(t)
	git.NewRepo(t, "app").Commit("many", map[string]string{"cms.yaml": strings.Join(docs, "---\n")})

	proxy := newAPIProxy(t)
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	var mu sync.Mutex
	applied := 0
	proxy.setIntercept(func(r *http.Request) bool {
		// Server-side applies of the ConfigMaps (not their dry runs).
		if r.Method != http.MethodPatch || !strings.Contains(r.URL.Path, "/namespaces/"+ns+"/configmaps/cm-") ||
			r.URL.Query().Has("dryRun") {
			return false
		}
		mu.Lock()
		applied++
		n := applied
		mu.Unlock()
		if n > first {
			select {
			case <-hold:
			case <-r.Context().Done():
			}
		}
		return false
	})
	const grace = 10 * time.Second
	flags := append(leaseFlags(ns, 6*time.Second), "--kubeconfig", proxy.kubeconfig(t), "--graceful-shutdown-timeout", grace.String())
	bin := buildEngine(t)
	old := startReplica(t, bin, "old", flags...)
	g.Expect(env.Client.Create(ctx, testenv.GitRepository(ns, "app", git.URL("app")))).To(Succeed())
	g.Expect(env.Client.Create(ctx, testenv.Kustomization(ns, "app", "app", "./",
		func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns }))).To(Succeed())

	owned := client.MatchingLabels{"kustomize.toolkit.fluxcd.io/name": "app", "kustomize.toolkit.fluxcd.io/namespace": ns}
	listCMs := func() []corev1.ConfigMap {
		var l corev1.ConfigMapList
		g.Expect(env.Client.List(ctx, &l, client.InNamespace(ns), owned)).To(Succeed())
		return l.Items
	}
	g.Eventually(func() int { return len(listCMs()) }, 60*time.Second, 100*time.Millisecond).Should(Equal(first))
	// The apply is under way: the inventory already names all 40 (the
	// intent is recorded before applying).
	k := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, k)).To(Succeed())
	g.Expect(k.Status.Inventory).NotTo(BeNil())
	g.Expect(k.Status.Inventory.Entries).To(HaveLen(total))

	old.signal(t, sig)
	err := old.waitExit(t, grace+10*time.Second)
	if sig == syscall.SIGTERM {
		g.Expect(err).NotTo(HaveOccurred(), "SIGTERM did not stop the engine cleanly within its grace period")
		lease := &coordinationv1.Lease{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: LeaderElectionID}, lease)).To(Succeed())
		g.Expect(lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "").To(BeTrue(), "the Lease was not released")
	}
	before := map[string]string{}
	for _, cm := range listCMs() {
		before[cm.Name] = cm.ResourceVersion
	}
	g.Expect(before).To(HaveLen(first), "the stop did not land mid-apply")

	proxy.setIntercept(nil)
	startReplica(t, bin, "new", flags...)
	g.Eventually(func() int { return len(listCMs()) }, 60*time.Second, 200*time.Millisecond).Should(Equal(total))
	g.Eventually(kustomizationReady(ns, "app"), 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	for _, cm := range listCMs() {
		if rv, ok := before[cm.Name]; ok {
			g.Expect(cm.ResourceVersion).To(Equal(rv), "%s was rewritten", cm.Name)
		}
	}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, k)).To(Succeed())
	g.Expect(k.Status.Inventory.Entries).To(HaveLen(total))

	g.Expect(env.Client.Delete(ctx, k)).To(Succeed())
	g.Eventually(func() error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &kustomizev1.Kustomization{})
	}, 60*time.Second, 200*time.Millisecond).ShouldNot(Succeed())
	g.Expect(listCMs()).To(BeEmpty(), "objects were orphaned")
}

// TestFaultGitServerDown takes the git server away after a first artifact:
// the GitRepository turns Ready=False and retries with backoff (a bounded
// number of reconciles, not a spin), its last artifact is still served, and
// the Kustomization keeps what it applied. When the registry is down the
// Plugin keeps its verified module serving in the same way (see
// TestPluginVerifiedCompiledAndServed in controller/plugin).
func TestFaultGitServerDown(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	e := startReplica(t, buildEngine(t), "engine", "--watch-namespace", ns)
	git := testenv.NewGitServer(t)
	git.NewRepo(t, "app").Commit("one", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {value: one}\n"})
	createApp(t, g, ns, git.URL("app"))
	g.Eventually(kustomizationReady(ns, "app"), 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	gr := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, gr)).To(Succeed())
	artifact := gr.Status.Artifact.DeepCopy()

	git.Stop()
	runs := func() float64 {
		v, err := e.metric("controller_runtime_reconcile_total", `controller="gitrepository"`)
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	before := runs()
	annotate(t, g, ns, "app")
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, gr)).To(Succeed())
		g.Expect(conditions.IsFalse(gr, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.IsTrue(gr, sourcev1.FetchFailedCondition)).To(BeTrue())
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	time.Sleep(10 * time.Second)
	retries := runs() - before
	t.Logf("GitRepository reconciles in the 10 s after the git server went away: %.0f", retries)
	g.Expect(retries).To(BeNumerically("<", 40), "retrying without backoff")

	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, gr)).To(Succeed())
	g.Expect(gr.Status.Artifact).NotTo(BeNil())
	g.Expect(gr.Status.Artifact.Digest).To(Equal(artifact.Digest))
	g.Expect(httpStatus(artifact.URL)).To(Equal(http.StatusOK), "the last artifact is no longer served")
	g.Expect(kustomizationReady(ns, "app")()).To(BeTrue())
	g.Expect(configMapValue(ns)()).To(Equal("one"))
}
