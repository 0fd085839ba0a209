package engine

import (
	"context"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// leaseFlags are the leader election flags of a test replica whose Lease
// lives in ns and lasts lease.
func leaseFlags(ns string, lease time.Duration) []string {
	return []string{"--watch-namespace", ns, "--leader-elect", "--leader-election-namespace", ns,
		"--leader-election-lease-duration", lease.String(),
		"--leader-election-renew-deadline", (lease * 2 / 3).String(),
		"--leader-election-retry-period", "500ms"}
}

// electedPair starts two replicas, a first, and returns them once a leads
// and b serves as a standby.
func electedPair(t *testing.T, g *WithT, ns string, lease time.Duration, extra ...string) (a, b *replica) {
	t.Helper()
	bin := buildEngine(t)
	a = startReplica(t, bin, "a", append(leaseFlags(ns, lease), extra...)...)
	g.Eventually(a.leading, 60*time.Second, 200*time.Millisecond).Should(BeTrue(), "replica a never led")
	b = startReplica(t, bin, "b", append(leaseFlags(ns, lease), extra...)...)
	// b answers on /metrics once its manager runs: it is then competing.
	g.Eventually(b.leading, 60*time.Second, 200*time.Millisecond).Should(BeFalse())
	return a, b
}

// appRepo serves one ConfigMap whose data is value, and returns a function
// committing a new value.
func appRepo(t *testing.T, value string) (url string, commit func(value string) string) {
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	commit = func(v string) string {
		return repo.Commit(v, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {value: " + v + "}\n"})
	}
	commit(value)
	return git.URL("app"), commit
}

// createApp creates a GitRepository and a Kustomization named app in ns.
func createApp(t *testing.T, g *WithT, ns, url string) {
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.GitRepository(ns, "app", url))).To(Succeed())
	g.Expect(env.Client.Create(ctx, testenv.Kustomization(ns, "app", "app", "./",
		func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns }))).To(Succeed())
}

// configMapValue is the value the app's ConfigMap holds in the cluster.
func configMapValue(ns string) func() string {
	return func() string {
		cm := &corev1.ConfigMap{}
		_ = env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, cm)
		return cm.Data["value"]
	}
}

func kustomizationReady(ns, name string) func() bool {
	return func() bool {
		k := &kustomizev1.Kustomization{}
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, k) == nil && conditions.IsReady(k)
	}
}

// TestLeaderOnlyLeaderReconcilesAndSIGTERMHandsOver: of two replicas only
// the one holding the Lease runs reconciles; on SIGTERM it finishes its
// work, exits 0 and releases the Lease, so the standby takes over long
// before the Lease would have expired, and starts its workers only after
// the old leader's workers have finished.
func TestLeaderOnlyLeaderReconcilesAndSIGTERMHandsOver(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	// A Lease far longer than the test waits: only a release hands it over.
	const lease = 5 * time.Minute
	a, b := electedPair(t, g, ns, lease)
	url, commit := appRepo(t, "one")
	createApp(t, g, ns, url)
	g.Eventually(kustomizationReady(ns, "app"), 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	g.Expect(configMapValue(ns)()).To(Equal("one"))

	g.Expect(a.reconciles()).To(BeNumerically(">", 0), "the leader reconciled nothing")
	g.Expect(b.reconciles()).To(BeZero(), "the standby reconciled")
	g.Expect(b.logTimes("Starting workers")).To(BeEmpty(), "the standby started controllers")

	a.signal(t, syscall.SIGTERM)
	g.Expect(a.waitExit(t, 30*time.Second)).To(Succeed(), "the leader did not exit cleanly on SIGTERM")
	g.Eventually(b.leading, 30*time.Second, 200*time.Millisecond).Should(BeTrue(), "the Lease was not released")

	// No overlap: every controller of b started after the same controller
	// of a stopped (the release orders them; the log shows it).
	for _, c := range []string{"kustomization", "gitrepository"} {
		stopped := a.logTimes("All workers finished", "controller", c)
		g.Expect(stopped).To(HaveLen(1), "controller %s of the old leader", c)
		g.Eventually(func() []time.Time { return b.logTimes("Starting workers", "controller", c) },
			30*time.Second, 200*time.Millisecond).Should(HaveLen(1))
		started := b.logTimes("Starting workers", "controller", c)[0]
		g.Expect(started.Before(stopped[0])).To(BeFalse(), "controller %s of the new leader started at %s, before the old one stopped at %s", c, started, stopped[0])
	}

	// The new leader carries on: a new commit reaches the cluster.
	before, _ := b.reconciles()
	commit("two")
	annotate(t, g, ns, "app")
	g.Eventually(configMapValue(ns), 60*time.Second, 200*time.Millisecond).Should(Equal("two"))
	g.Expect(b.reconciles()).To(BeNumerically(">", before))
}

// TestLeaderSIGKILLStandbyTakesOver: a leader that dies without releasing
// the Lease is replaced once the Lease expires; the standby reconciles
// from then on.
func TestLeaderSIGKILLStandbyTakesOver(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	const lease = 6 * time.Second
	a, b := electedPair(t, g, ns, lease)
	url, commit := appRepo(t, "one")
	createApp(t, g, ns, url)
	g.Eventually(kustomizationReady(ns, "app"), 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	g.Expect(b.reconciles()).To(BeZero(), "the standby reconciled")

	a.signal(t, syscall.SIGKILL)
	_ = a.waitExit(t, 10*time.Second)
	killed := time.Now()
	g.Eventually(b.leading, 60*time.Second, 200*time.Millisecond).Should(BeTrue())
	// Informational: the machine is shared, so this is not asserted.
	t.Logf("standby led %s after the leader was killed (lease %s)", time.Since(killed).Round(100*time.Millisecond), lease)

	commit("two")
	annotate(t, g, ns, "app")
	g.Eventually(configMapValue(ns), 60*time.Second, 200*time.Millisecond).Should(Equal("two"))
	g.Expect(b.reconciles()).To(BeNumerically(">", 0))
}

// TestLeaderLosingTheLeaseExits: a leader that cannot renew its Lease
// (here another holder took it) stops at the renew deadline and the
// process exits with an error naming the Lease, rather than carrying on as
// a second leader or hanging.
func TestLeaderLosingTheLeaseExits(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	bin := buildEngine(t)
	a := startReplica(t, bin, "a", leaseFlags(ns, 6*time.Second)...)
	g.Eventually(a.leading, 60*time.Second, 200*time.Millisecond).Should(BeTrue())

	ctx := context.Background()
	g.Eventually(func() error {
		l := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: LeaderElectionID}, l); err != nil {
			return err
		}
		l.Spec.HolderIdentity = ptr.To("intruder")
		l.Spec.LeaseDurationSeconds = ptr.To[int32](3600)
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		return env.Client.Update(ctx, l)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	err := a.waitExit(t, 60*time.Second)
	g.Expect(err).To(HaveOccurred(), "the engine exited 0 after losing the Lease")
	g.Expect(a.log.String()).To(ContainSubstring("error: leader election lost: lease " + ns + "/" + LeaderElectionID))
}

// annotate asks for a reconcile of the GitRepository named name at once.
func annotate(t *testing.T, g *WithT, ns, name string) {
	t.Helper()
	g.Eventually(func() error {
		gr := &sourcev1.GitRepository{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, gr); err != nil {
			return err
		}
		patch := client.MergeFrom(gr.DeepCopy())
		if gr.Annotations == nil {
			gr.Annotations = map[string]string{}
		}
		gr.Annotations[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
		return env.Client.Patch(context.Background(), gr, patch)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}
