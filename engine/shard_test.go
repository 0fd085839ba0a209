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
	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

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

	// Relabelling a source moves it: shard1 picks it up on the label change
	// alone (no annotation, an interval of a minute), stores its new commit
	// and serves it; shard2's Kustomization follows.
	commits["src2"]("two")
	src2 := &sourcev1.GitRepository{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "src2"}, src2)).To(Succeed())
	oldURL := src2.Status.Artifact.URL
	g.Expect(httpStatus(oldURL)).To(Equal(http.StatusOK))
	patch := client.MergeFrom(src2.DeepCopy())
	src2.Labels[shardKey] = "shard1"
	g.Expect(env.Client.Patch(ctx, src2, patch)).To(Succeed())
	g.Eventually(func() string {
		_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "src2"}, src2)
		if src2.Status.Artifact == nil {
			return ""
		}
		return src2.Status.Artifact.URL
	}, 30*time.Second, 200*time.Millisecond).Should(HavePrefix("http://" + shards["shard1"].storage + "/"))
	g.Eventually(func() string {
		cm := &corev1.ConfigMap{}
		_ = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "k2-cm"}, cm)
		return cm.Data["value"]
	}, 60*time.Second, 200*time.Millisecond).Should(Equal("two"))
	// The old shard drops its copy once the new owner has published.
	g.Eventually(func() (int, error) { return httpStatus(oldURL) }, 30*time.Second, 200*time.Millisecond).Should(Equal(http.StatusNotFound))
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

// TestShardManifests builds config/shards as `kubectl apply -k` would and
// applies it: three Deployments, each with valid flags, its own selector,
// its own Lease, and artifact URLs that name the Service reaching only its
// own pods.
func TestShardManifests(t *testing.T) {
	g := NewWithT(t)
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), "../config/shards")
	g.Expect(err).NotTo(HaveOccurred())
	services := map[string]map[string]string{} // name -> selector
	leases := map[string]bool{}
	var deploys []*appsv1.Deployment
	for _, r := range resMap.Resources() {
		m, err := r.Map()
		g.Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{Object: m}
		switch u.GetKind() {
		case "Deployment":
			d := &appsv1.Deployment{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, d)).To(Succeed())
			deploys = append(deploys, d)
		case "Service":
			svc := &corev1.Service{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, svc)).To(Succeed())
			services[svc.Name] = svc.Spec.Selector
		}
		g.Expect(env.Client.Patch(context.Background(), u, client.Apply, client.FieldOwner("weir-install-test"), client.ForceOwnership)).
			To(Succeed(), "applying %s %s", u.GetKind(), u.GetName())
	}
	g.Expect(deploys).To(HaveLen(3))
	for _, d := range deploys {
		cfg := DefaultConfig()
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		cfg.BindFlags(fs)
		var args []string
		for _, a := range d.Spec.Template.Spec.Containers[0].Args[1:] {
			args = append(args, strings.ReplaceAll(a, "$(RUNTIME_NAMESPACE)", "weir-system"))
		}
		g.Expect(fs.Parse(args)).To(Succeed())
		g.Expect(cfg.Validate()).To(Succeed())
		g.Expect(cfg.LeaderElect).To(BeTrue())
		shard := d.Spec.Template.Labels["sharding.fluxcd.io/shard"]
		g.Expect(cfg.WatchLabelSelector).To(Equal(shardSelector(shard)), d.Name)
		leases[cfg.LeaseName()] = true
		svc := strings.SplitN(cfg.StorageAdvAddr, ".", 2)[0]
		g.Expect(services).To(HaveKey(svc), d.Name)
		g.Expect(labels.SelectorFromSet(services[svc]).Matches(labels.Set(d.Spec.Template.Labels))).To(BeTrue(), d.Name)
		for _, other := range deploys {
			if other != d {
				g.Expect(labels.SelectorFromSet(services[svc]).Matches(labels.Set(other.Spec.Template.Labels))).To(BeFalse(),
					"service %s reaches the pods of %s", svc, other.Name)
			}
		}
	}
	g.Expect(leases).To(HaveLen(3))
}
