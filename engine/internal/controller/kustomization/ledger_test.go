package kustomization

import (
	"context"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// countingClient counts what fluxcd/pkg/ssa sends for unstructured
// objects: reads, dry-runs and applies.
type countingClient struct {
	client.Client
	mu                    sync.Mutex
	gets, dryRuns, writes map[string]int
}

func newCountingClient(c client.Client) *countingClient {
	return &countingClient{Client: c, gets: map[string]int{}, dryRuns: map[string]int{}, writes: map[string]int{}}
}

func (c *countingClient) reset() (gets, dryRuns, writes map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets, dryRuns, writes = c.gets, c.dryRuns, c.writes
	c.gets, c.dryRuns, c.writes = map[string]int{}, map[string]int{}, map[string]int{}
	return
}

func (c *countingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		c.mu.Lock()
		c.gets[key.Name]++
		c.mu.Unlock()
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *countingClient) Patch(ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		po := &client.PatchOptions{}
		po.ApplyOptions(opts)
		c.mu.Lock()
		if len(po.DryRun) > 0 {
			c.dryRuns[obj.GetName()]++
		} else {
			c.writes[obj.GetName()]++
		}
		c.mu.Unlock()
	}
	return c.Client.Patch(ctx, obj, p, opts...)
}

// ledgerFixture starts a fingerprint cache over ns and returns it, a
// constructor of Clusters with a new ledger that act through the returned
// counting client.
func ledgerFixture(t *testing.T, ns string) (*apply.CachedFingerprints, func() *apply.Cluster, *countingClient) {
	t.Helper()
	var fingerprints *apply.CachedFingerprints
	env.Manager(t, func(_ context.Context, mgr ctrl.Manager) error {
		v, err := apply.NewCachedFingerprints(mgr, []string{ns})
		if err != nil {
			return err
		}
		fingerprints = v
		return mgr.Add(v)
	})
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(env.Config, hc)
	if err != nil {
		t.Fatal(err)
	}
	cc := newCountingClient(env.Client)
	return fingerprints, func() *apply.Cluster {
		return apply.NewCluster(cc, mapper, apply.ClusterOptions{ID: "local", Ledger: apply.NewLedger(), Fingerprints: fingerprints})
	}, cc
}

// waitCachedFingerprint waits until the cache holds the live object's
// fingerprint, or knows nothing of it when it does not exist.
func waitCachedFingerprint(t testing.TB, f apply.LiveFingerprints, gvk schema.GroupVersionKind, ns, name string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(gvk)
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, live)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		fp, ok := f.Fingerprint(context.Background(), gvk, ns, name)
		if apierrors.IsNotFound(err) {
			if !ok {
				return
			}
			continue
		}
		if want, _ := apply.Fingerprint(live); ok && fp == want {
			return
		}
	}
	t.Fatalf("the cache never caught up with %s %s/%s", gvk.Kind, ns, name)
}

// TestLedgerSkipsUntouchedObjects: an object nobody wrote since the last
// apply costs no request; a write by anyone, a changed manifest, a deleted
// object and a restart each take the full path, and drift is corrected.
func TestLedgerSkipsUntouchedObjects(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	fingerprints, newCluster, cc := ledgerFixture(t, ns)
	cl := newCluster()

	ks := testenv.Kustomization(ns, "ks", "repo", "./")
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	objs := func(data map[string]string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, name := range []string{"a", "b", "c"} {
			u := &unstructured.Unstructured{}
			g.Expect(yaml.Unmarshal([]byte(cm(name)), &u.Object)).To(Succeed())
			if v, ok := data[name]; ok {
				u.Object["data"] = map[string]any{"k": v}
			}
			u.SetNamespace(ns)
			u.SetLabels(apply.OwnerLabels(ks))
			out = append(out, u)
		}
		return out
	}
	run := func(data map[string]string) *apply.Result {
		t.Helper()
		o := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), o)).To(Succeed())
		res, err := apply.Apply(ctx, env.Client, cl, o, objs(data))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(res.Inventory.Entries).To(HaveLen(3))
		return res
	}
	cached := func(name string) {
		t.Helper()
		waitCachedFingerprint(t, fingerprints, corev1.SchemeGroupVersion.WithKind("ConfigMap"), ns, name)
	}
	all := map[string]int{"a": 1, "b": 1, "c": 1}

	// The first apply sends everything.
	res := run(nil)
	g.Expect(res.Changes).To(ContainSubstring("ConfigMap/" + ns + "/a created"))
	_, dry, wr := cc.reset()
	g.Expect(dry).To(Equal(all))
	g.Expect(wr).To(Equal(all))
	for _, n := range []string{"a", "b", "c"} {
		cached(n)
	}

	// Untouched: nothing is read or sent, all reported unchanged.
	res = run(nil)
	g.Expect(res.Changes).To(BeEmpty())
	g.Expect(res.Applied).To(HaveLen(3))
	gets, dry, wr := cc.reset()
	g.Expect(gets).To(BeEmpty())
	g.Expect(dry).To(BeEmpty())
	g.Expect(wr).To(BeEmpty())

	// Someone edits a: only a is checked, and its drift is corrected.
	live := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, live)).To(Succeed())
	live.Data["k"] = "edited"
	g.Expect(env.Client.Update(ctx, live)).To(Succeed())
	cached("a")
	res = run(nil)
	g.Expect(res.Changes).To(Equal("ConfigMap/" + ns + "/a configured"))
	gets, dry, wr = cc.reset()
	g.Expect(gets).To(Equal(map[string]int{"a": 1}))
	g.Expect(dry).To(Equal(map[string]int{"a": 1}))
	g.Expect(wr).To(Equal(map[string]int{"a": 1}))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, live)).To(Succeed())
	g.Expect(live.Data["k"]).To(Equal("v"))
	cached("a")

	// A changed manifest is sent.
	res = run(map[string]string{"b": "new"})
	g.Expect(res.Changes).To(Equal("ConfigMap/" + ns + "/b configured"))
	_, dry, _ = cc.reset()
	g.Expect(dry).To(Equal(map[string]int{"b": 1}))
	cached("b")

	// A deleted object is created again.
	g.Expect(env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: live.ObjectMeta})).To(Succeed())
	cached("a")
	res = run(map[string]string{"b": "new"})
	g.Expect(res.Changes).To(Equal("ConfigMap/" + ns + "/a created"))
	_, dry, _ = cc.reset()
	g.Expect(dry).To(Equal(map[string]int{"a": 1}))
	cached("a")

	// An object found unchanged by a full check is recorded as well: a
	// new ledger (a restart) checks everything once, then nothing.
	cl = newCluster()
	res = run(map[string]string{"b": "new"})
	g.Expect(res.Changes).To(BeEmpty())
	_, dry, wr = cc.reset()
	g.Expect(dry).To(Equal(all))
	g.Expect(wr).To(BeEmpty())
	run(map[string]string{"b": "new"})
	gets, dry, _ = cc.reset()
	g.Expect(gets).To(BeEmpty())
	g.Expect(dry).To(BeEmpty())
}

// TestLedgerIgnoresStatusWrites: a controller writing an object's status
// (as the deployment controller does after every rollout) is no drift; a
// label removed from the object is.
func TestLedgerIgnoresStatusWrites(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	fingerprints, newCluster, cc := ledgerFixture(t, ns)
	cl := newCluster()
	ks := testenv.Kustomization(ns, "ks", "repo", "./")
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	svc := func() []*unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		g.Expect(yaml.Unmarshal([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: lb\nspec:\n  type: LoadBalancer\n  ports:\n  - port: 80\n"), &u.Object)).To(Succeed())
		u.SetNamespace(ns)
		u.SetLabels(apply.OwnerLabels(ks))
		return []*unstructured.Unstructured{u}
	}
	run := func() string {
		t.Helper()
		o := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), o)).To(Succeed())
		res, err := apply.Apply(ctx, env.Client, cl, o, svc())
		g.Expect(err).NotTo(HaveOccurred())
		return res.Changes
	}
	settled := func() {
		t.Helper()
		waitCachedFingerprint(t, fingerprints, corev1.SchemeGroupVersion.WithKind("Service"), ns, "lb")
	}
	g.Expect(run()).To(ContainSubstring("created"))
	settled()
	cc.reset()

	// A load balancer controller publishes the address: no request.
	live := &corev1.Service{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lb"}, live)).To(Succeed())
	rv := live.ResourceVersion
	live.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}}
	g.Expect(env.Client.Status().Update(ctx, live)).To(Succeed())
	g.Expect(live.ResourceVersion).NotTo(Equal(rv))
	settled()
	g.Expect(run()).To(BeEmpty())
	gets, dry, wr := cc.reset()
	g.Expect(gets).To(BeEmpty())
	g.Expect(dry).To(BeEmpty())
	g.Expect(wr).To(BeEmpty())

	// Someone removes a label of the Service's: it is checked and put back.
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lb"}, live)).To(Succeed())
	lbls := live.GetLabels()
	delete(lbls, apply.OwnerGroup+"/namespace")
	live.SetLabels(lbls)
	g.Expect(env.Client.Update(ctx, live)).To(Succeed())
	settled()
	g.Expect(run()).To(ContainSubstring("Service/" + ns + "/lb configured"))
	_, dry, _ = cc.reset()
	g.Expect(dry).To(Equal(map[string]int{"lb": 1}))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lb"}, live)).To(Succeed())
	g.Expect(live.Labels).To(HaveKey(apply.OwnerGroup + "/namespace"))
}

// TestQuietReconcileWritesNothing: periodic reconciles of an applied,
// healthy Kustomization whose objects nobody touched write nothing: not
// the objects, not the Kustomization's status (history is rewritten at
// most every HistoryRefresh). They are counted, and the count reaches
// totalReconciliations at the next write.
func TestQuietReconcileWritesNothing(t *testing.T) {
	g := NewWithT(t)
	var r *Reconciler
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r = &Reconciler{Client: mgr.GetClient(), Options: Options{Concurrent: 4, NoRemoteBases: true, HistoryRefresh: time.Hour}}
		return r.SetupWithManager(ctx, mgr)
	})
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:" + strings.Repeat("9", 40)
	a.publish(t, ns, "repo", rev, map[string]string{"a.yaml": cm("a")})
	ks := testenv.Kustomization(ns, "quiet", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace, k.Spec.Wait = ns, true
		k.Spec.Interval = metav1.Duration{Duration: time.Second}
	})
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	got := waitApplied(t, client.ObjectKeyFromObject(ks), rev)
	live := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, live)).To(Succeed())

	// Let the informers settle, then take the versions.
	time.Sleep(2 * time.Second)
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), got)).To(Succeed())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, live)).To(Succeed())
	ksRV, cmRV := got.ResourceVersion, live.ResourceVersion
	total := got.Status.History[0].TotalReconciliations
	key := client.ObjectKeyFromObject(ks)
	g.Eventually(func() int64 {
		r.quiet.mu.Lock()
		defer r.quiet.mu.Unlock()
		return r.quiet.m[key].n
	}, 20*time.Second, 100*time.Millisecond).Should(BeNumerically(">=", 3))
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), got)).To(Succeed())
	g.Expect(got.ResourceVersion).To(Equal(ksRV), "status written by a quiet reconcile")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, live)).To(Succeed())
	g.Expect(live.ResourceVersion).To(Equal(cmRV), "object written by a quiet reconcile")

	// The next write carries the quiet reconciles in the count.
	g.Expect(env.Client.Delete(ctx, live)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(ks), got)).To(Succeed())
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &corev1.ConfigMap{})).To(Succeed())
		g.Expect(got.Status.History[0].TotalReconciliations).To(BeNumerically(">=", total+4))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
