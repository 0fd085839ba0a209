package engine

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

const shardKey = "sharding.fluxcd.io/key"

func shardSelector(shard string) string { return shardKey + " in (" + shard + ")" }

// TestShardsReconcileDisjointSetsAndShareSources runs two shards, each with
// leader election. Each reconciles only the objects labelled for it and
// serves the artifacts of its own sources; a Kustomization of shard2 applies
// a source of shard1 through its artifact URL, and is told of that source's
// new artifacts by its watch (its own interval is an hour); objects with no
// shard label are left alone by both.
func TestShardsReconcileDisjointSetsAndShareSources(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	bin := buildEngine(t)
	shards := map[string]*replica{}
	for _, s := range []string{"shard1", "shard2"} {
		shards[s] = startReplica(t, bin, s, append(leaseFlags(ns, time.Minute), "--watch-label-selector", shardSelector(s))...)
	}
	for _, r := range shards {
		g.Eventually(r.leading, 60*time.Second, 200*time.Millisecond).Should(BeTrue(), "shard %s has no leader", r.name)
	}
	// One Lease per shard.
	var leases coordinationv1.LeaseList
	g.Expect(env.Client.List(ctx, &leases, client.InNamespace(ns))).To(Succeed())
	g.Expect(leases.Items).To(HaveLen(2))

	git := testenv.NewGitServer(t)
	commits := map[string]func(string) string{}
	for _, name := range []string{"src1", "src2", "none"} {
		repo := git.NewRepo(t, name)
		commits[name] = func(v string) string {
			return repo.Commit(v, map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {value: " + v + "}\n"})
		}
		commits[name]("one")
	}
	label := func(shard string) func(metav1.Object) {
		return func(o metav1.Object) {
			if shard != "" {
				o.SetLabels(map[string]string{shardKey: shard})
			}
		}
	}
	type app struct{ name, shard, source string }
	sources := []app{{"src1", "shard1", ""}, {"src2", "shard2", ""}, {"none", "", ""}}
	apps := []app{{"k1", "shard1", "src1"}, {"k2", "shard2", "src2"}, {"k3", "shard2", "src1"}, {"k-none", "", "none"}}
	for _, s := range sources {
		gr := testenv.GitRepository(ns, s.name, git.URL(s.name))
		label(s.shard)(gr)
		g.Expect(env.Client.Create(ctx, gr)).To(Succeed())
	}
	for _, a := range apps {
		ks := testenv.Kustomization(ns, a.name, a.source, "./", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.NamePrefix = a.name + "-"
			k.Spec.Interval = metav1.Duration{Duration: time.Hour}
		})
		label(a.shard)(ks)
		g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	}
	for _, a := range apps[:3] {
		g.Eventually(kustomizationReady(ns, a.name), 60*time.Second, 200*time.Millisecond).Should(BeTrue(), a.name)
	}

	// Each shard serves its own sources' artifacts, and only those.
	for _, s := range sources[:2] {
		gr := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.name}, gr)).To(Succeed())
		g.Expect(gr.Status.Artifact).NotTo(BeNil())
		owner, other := shards[s.shard], shards["shard1"]
		if s.shard == "shard1" {
			other = shards["shard2"]
		}
		g.Expect(gr.Status.Artifact.URL).To(HavePrefix("http://" + owner.storage + "/"))
		g.Expect(httpStatus(gr.Status.Artifact.URL)).To(Equal(http.StatusOK))
		g.Expect(httpStatus(strings.Replace(gr.Status.Artifact.URL, owner.storage, other.storage, 1))).To(Equal(http.StatusNotFound))
	}
	// Neither shard touched the unlabelled objects.
	none := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "none"}, none)).To(Succeed())
	g.Expect(none.Finalizers).To(BeEmpty())
	g.Expect(none.Status.Conditions).To(BeEmpty())
	g.Expect(none.Status.Artifact).To(BeNil())
	noneKs := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "k-none"}, noneKs)).To(Succeed())
	g.Expect(noneKs.Finalizers).To(BeEmpty())
	g.Expect(noneKs.Status.Conditions).To(BeEmpty())

	// A new commit of shard1's source reaches shard2's Kustomization through
	// the watch: nothing else would reconcile it within the hour.
	commits["src1"]("two")
	annotate(t, g, ns, "src1")
	for _, name := range []string{"k1-cm", "k3-cm"} {
		g.Eventually(func() string {
			cm := &corev1.ConfigMap{}
			_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm)
			return cm.Data["value"]
		}, 60*time.Second, 200*time.Millisecond).Should(Equal("two"), name)
	}
}

func httpStatus(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestLeaseNamePerShard: replicas of one shard share a Lease, shards do not,
// and spellings of one selector are one shard.
func TestLeaseNamePerShard(t *testing.T) {
	name := func(sel string) string {
		c := DefaultConfig()
		c.WatchLabelSelector = sel
		return c.LeaseName()
	}
	tests := []struct {
		a, b string
		same bool
	}{
		{"", "", true},
		{shardSelector("shard1"), shardSelector("shard1"), true},
		{shardSelector("shard1"), "sharding.fluxcd.io/key in ( shard1 )", true},
		{"a=1,b=2", "b=2,a=1", true},
		{shardSelector("shard1"), shardSelector("shard2"), false},
		{"", shardSelector("shard1"), false},
	}
	for _, tt := range tests {
		if got := name(tt.a) == name(tt.b); got != tt.same {
			t.Errorf("%q and %q: same Lease %v, want %v (%s, %s)", tt.a, tt.b, got, tt.same, name(tt.a), name(tt.b))
		}
	}
	if got := name(""); got != LeaderElectionID {
		t.Errorf("unsharded Lease %q, want %q", got, LeaderElectionID)
	}
	if got := name(shardSelector("shard1")); !strings.HasPrefix(got, "weir-engine-leader-") || !strings.HasSuffix(got, ".weir.dev") {
		t.Errorf("shard Lease %q", got)
	}
}
