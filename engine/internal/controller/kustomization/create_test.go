package kustomization

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/build"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// newObjectsCluster is an apply.Cluster over the test API server with the
// engine's fingerprint cache, acting through a countingClient, and a
// Kustomization in a new namespace to apply for.
func newObjectsCluster(t *testing.T) (*apply.Cluster, *countingClient, *kustomizev1.Kustomization, *apply.CachedFingerprints) {
	t.Helper()
	var (
		counting *countingClient
		cl       *apply.Cluster
		f        *apply.CachedFingerprints
	)
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		var err error
		f, err = apply.NewCachedFingerprints(mgr, nil)
		if err != nil {
			return err
		}
		counting = newCountingClient(mgr.GetClient())
		cl = apply.NewCluster(counting, mgr.GetRESTMapper(), apply.ClusterOptions{ID: "local",
			Ledger: apply.NewLedger(), Fingerprints: f, Local: true, Concurrency: 4})
		return mgr.Add(f)
	})
	ns := env.Namespace(t)
	k := testenv.Kustomization(ns, "new", "repo", "./")
	if err := env.Client.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return cl, counting, k, f
}

func configMapObjects(t *testing.T, k *kustomizev1.Kustomization, names ...string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, n := range names {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": n, "namespace": k.Namespace},
			"data":     map[string]any{"k": "v"},
		}})
	}
	build.Label(objs, k)
	return objs
}

func names(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%02d", prefix, i))
	}
	return out
}

func inventoryIDs(k *kustomizev1.Kustomization) map[string]bool {
	ids := map[string]bool{}
	if k.Status.Inventory != nil {
		for _, e := range k.Status.Inventory.Entries {
			ids[e.ID] = true
		}
	}
	return ids
}

// TestNewObjectsSkipTheRead: a stage of objects the cache proves new is
// dry-run and created, with no read of each object; one that exists
// without Flux's labels (so the cache does not hold it) sends the stage
// through ssa, which takes it over.
func TestNewObjectsSkipTheRead(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	cl, counting, k, f := newObjectsCluster(t)

	objs := configMapObjects(t, k, names("new", 20)...)
	res, err := apply.Apply(ctx, env.Client, cl, k, objs)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Applied).To(HaveLen(20))
	g.Expect(strings.Count(res.Changes, "created")).To(Equal(20), res.Changes)
	gets, dryRuns, writes := counting.reset()
	g.Expect([]int{total(gets), total(dryRuns), total(writes)}).To(Equal([]int{0, 20, 20}), "reads, dry-runs, applies")
	g.Expect(inventoryIDs(k)).To(HaveLen(20))
	for _, n := range names("new", 20) {
		waitCachedFingerprint(t, f, corev1.SchemeGroupVersion.WithKind("ConfigMap"), k.Namespace, n)
	}

	// An unlabelled ConfigMap of the same name as one of the next set.
	stray := &corev1.ConfigMap{}
	stray.Namespace, stray.Name, stray.Data = k.Namespace, "more-03", map[string]string{"k": "theirs", "x": "y"}
	g.Expect(env.Client.Create(ctx, stray)).To(Succeed())
	more := configMapObjects(t, k, names("more", 5)...)
	res, err = apply.Apply(ctx, env.Client, cl, k, append(objs, more...))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Changes).To(ContainSubstring("ConfigMap/" + k.Namespace + "/more-03 configured"))
	g.Expect(strings.Count(res.Changes, "created")).To(Equal(4), res.Changes)
	gets, _, _ = counting.reset()
	g.Expect(total(gets)).To(Equal(5), "the five not proven untouched were read by ssa: %v", gets)
	got := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(stray), got)).To(Succeed())
	g.Expect(got.Data["k"]).To(Equal("v"))
	g.Expect(got.Labels).To(HaveKey(apply.OwnerGroup + "/name"))
}

// TestNewObjectsInvalidOneAppliesNothing: one invalid object among new
// ones fails the stage before anything is written, as ssa's dry-run of the
// whole stage does.
func TestNewObjectsInvalidOneAppliesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	cl, _, k, _ := newObjectsCluster(t)
	objs := configMapObjects(t, k, append(names("ok", 10), "Not_A_Name")...)
	_, err := apply.Apply(ctx, env.Client, cl, k, objs)
	g.Expect(err).To(MatchError(ContainSubstring("Not_A_Name")))
	for _, n := range names("ok", 10) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: n}, &corev1.ConfigMap{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s: %v", n, err)
	}
}

// TestNewObjectsRefusedHalfwayStayInInventory: a quota admits each object
// on its own (the dry-runs pass) and refuses the creates past its limit.
// What was created must stay in the inventory, so prune and deletion find
// it; the apply is not counted as a success. Both paths: all new, and a
// stage with one object that exists, which ssa applies (it returns no
// change set when an apply fails half way).
func TestNewObjectsRefusedHalfwayStayInInventory(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("one existing %v", existing), func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			cl, _, k, f := newObjectsCluster(t)
			q := &corev1.ResourceQuota{}
			q.Namespace, q.Name = k.Namespace, "three"
			q.Spec.Hard = corev1.ResourceList{"count/configmaps": resource.MustParse("3")}
			g.Expect(env.Client.Create(ctx, q)).To(Succeed())
			// No quota controller runs here: set the status it would. First
			// as full, until a dry-run create is refused (the API server
			// reads quotas through a cache), then as empty, until one is
			// admitted.
			setUsed := func(used string, admitted bool) {
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(q), q)).To(Succeed())
				q.Status.Hard = q.Spec.Hard
				q.Status.Used = corev1.ResourceList{"count/configmaps": resource.MustParse(used)}
				g.Expect(env.Client.Status().Update(ctx, q)).To(Succeed())
				g.Eventually(func() bool {
					probe := configMapObjects(t, k, "probe")[0]
					return env.Client.Create(ctx, probe, client.DryRunAll) == nil
				}, 10*time.Second, 50*time.Millisecond).Should(Equal(admitted))
			}
			setUsed("3", false)
			setUsed("0", true)

			objs := configMapObjects(t, k, names("q", 8)...)
			limit := 3
			if existing {
				first := configMapObjects(t, k, "first")
				_, err := apply.Apply(ctx, env.Client, cl, k, first)
				g.Expect(err).NotTo(HaveOccurred())
				waitCachedFingerprint(t, f, corev1.SchemeGroupVersion.WithKind("ConfigMap"), k.Namespace, "first")
				// Changed, so the ledger does not leave it out of the stage.
				first[0].Object["data"] = map[string]any{"k": "changed"}
				objs, limit = append(first, objs...), 2
			}
			_, err := apply.Apply(ctx, env.Client, cl, k, objs)
			g.Expect(err).To(MatchError(ContainSubstring("exceeded quota")))

			got := &kustomizev1.Kustomization{}
			g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
			ids := inventoryIDs(got)
			created := 0
			for _, n := range names("q", 8) {
				err := env.Client.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: n}, &corev1.ConfigMap{})
				if apierrors.IsNotFound(err) {
					continue
				}
				g.Expect(err).NotTo(HaveOccurred())
				created++
				g.Expect(ids).To(HaveKey(k.Namespace+"_"+n+"__ConfigMap"), "created and not in the inventory: %s", n)
			}
			// Some were created, at most what the quota allows (creates run
			// at once, and the first refusal cancels those not sent yet).
			g.Expect(created).To(BeNumerically(">=", 1), "nothing was created: the case is not a partial apply")
			g.Expect(created).To(BeNumerically("<=", limit))
		})
	}
}
