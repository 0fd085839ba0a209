package kustomization

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB2ConfigMaps is issue 4's B2: one Kustomization of N ConfigMaps
// (WEIR_B2_OBJECTS, default 5000) through the controller on the test API
// server, with the engine's client settings: no client-side rate limit (the
// test API server has API Priority and Fairness, see engine.clientLimits)
// and Flux's default --concurrent-ssa of 4.
//
//   - create: from creating the Kustomization to Ready; objects/s.
//   - no-op: a requested reconcile of the applied revision, the median of
//     five. noop-ms is the engine's part: from the request stored (the
//     annotation patch answered) to status.lastHandledReconcileAt seen by
//     a watch; noop-e2e-ms adds the request's own write (a metadata patch
//     of the same 5,000-entry object, the requester's cost).
//   - drift: 1% of the ConfigMaps edited behind its back, then a requested
//     reconcile, until handled, the edits undone; and the same for a
//     Kustomization of only those objects (the changed subset).
//     drift-ratio is the first over the second.
//
// Targets (issue 4): create ≥ 500 objects/s, no-op ≤ 200 ms, drift-ratio ≤ 2.
func BenchmarkB2ConfigMaps(b *testing.B) {
	ctrl.SetLogger(logr.Discard())
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("WEIR_B2_OBJECTS")); err == nil && v >= 100 {
		n = v
	}
	drifted := n / 100
	var r *Reconciler
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, -1
	ssa := 4
	if v, err := strconv.Atoi(os.Getenv("WEIR_B2_SSA")); err == nil && v > 0 {
		ssa = v
	}
	env.ManagerWithConfig(b, cfg, func(ctx context.Context, mgr ctrl.Manager) error {
		r = &Reconciler{Client: mgr.GetClient(), Options: Options{Concurrent: 4, ConcurrentSSA: ssa, NoRemoteBases: true}}
		return r.SetupWithManager(ctx, mgr)
	})
	ctx := context.Background()
	a := newArtifacts(b)
	for i := 0; i < b.N; i++ {
		ns := env.Namespace(b)
		big := configMaps("cm", n)
		small := configMaps("sub", drifted)
		a.publish(b, ns, "big", "main@sha1:"+strings.Repeat("b", 40), big)
		a.publish(b, ns, "small", "main@sha1:"+strings.Repeat("c", 40), small)

		b.StartTimer()
		create := applyKS(b, ns, "big")
		var noops, noopsE2E []time.Duration
		for k := range 5 {
			noop, e2e := requestReconcile(b, ns, "big", fmt.Sprint("noop-", k))
			noops, noopsE2E = append(noops, noop), append(noopsE2E, e2e)
		}
		b.StopTimer()
		applyKS(b, ns, "small")

		// Edit 1% of each: the first drifted names of both sets.
		edit := func(prefix string) {
			for j := range drifted {
				name := fmt.Sprintf("%s-%05d", prefix, j)
				cm := &corev1.ConfigMap{}
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
					b.Fatal(err)
				}
				cm.Data["k"] = "edited"
				if err := env.Client.Update(ctx, cm); err != nil {
					b.Fatal(err)
				}
				waitCachedFingerprint(b, r.Fingerprints, corev1.SchemeGroupVersion.WithKind("ConfigMap"), ns, name)
			}
		}
		edit("cm")
		b.StartTimer()
		drift, _ := requestReconcile(b, ns, "big", "drift")
		b.StopTimer()
		edit("sub")
		subset, _ := requestReconcile(b, ns, "small", "drift")
		for _, prefix := range []string{"cm", "sub"} {
			cm := &corev1.ConfigMap{}
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: prefix + "-00000"}, cm); err != nil {
				b.Fatal(err)
			}
			if cm.Data["k"] != "v" {
				b.Fatalf("%s: drift not corrected: %q", cm.Name, cm.Data["k"])
			}
		}
		b.ReportMetric(float64(n)/create.Seconds(), "create-objects/s")
		b.ReportMetric(float64(median(noops).Milliseconds()), "noop-ms")
		b.ReportMetric(float64(median(noopsE2E).Milliseconds()), "noop-e2e-ms")
		b.ReportMetric(float64(drift.Milliseconds()), "drift-ms")
		b.ReportMetric(float64(subset.Milliseconds()), "subset-ms")
		b.ReportMetric(drift.Seconds()/subset.Seconds(), "drift-ratio")
	}
}

// configMaps is n ConfigMap manifests named prefix-00000..., 100 a file.
func configMaps(prefix string, n int) map[string]string {
	files := map[string]string{}
	var sb strings.Builder
	for j := range n {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%05d\ndata:\n  k: v\n", prefix, j)
		if j%100 == 99 || j == n-1 {
			files[fmt.Sprintf("%s-%03d.yaml", prefix, j/100)] = sb.String()
			sb.Reset()
		}
	}
	return files
}

// applyKS creates the Kustomization of the GitRepository name and waits
// until it is Ready.
func applyKS(b *testing.B, ns, name string) time.Duration {
	b.Helper()
	k := testenv.Kustomization(ns, name, name, "./", func(k *kustomizev1.Kustomization) {
		k.Spec.Prune, k.Spec.TargetNamespace = true, ns
	})
	w := watching(b, ns, name)
	defer w.Stop()
	start := time.Now()
	if err := env.Client.Create(context.Background(), k); err != nil {
		b.Fatal(err)
	}
	return await(b, w, k, func(k *kustomizev1.Kustomization) bool {
		return conditions.IsReady(k) && k.Status.LastAppliedRevision != ""
	}, start)
}

// median is the middle of ds (of the two middle ones, the upper).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt and waits until
// the reconcile handled it: the time since the request was stored, and
// since it was sent.
func requestReconcile(b *testing.B, ns, name, value string) (engine, e2e time.Duration) {
	b.Helper()
	k := &kustomizev1.Kustomization{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, k); err != nil {
		b.Fatal(err)
	}
	patch := client.MergeFrom(k.DeepCopy())
	k.Annotations = map[string]string{meta.ReconcileRequestAnnotation: value}
	w := watching(b, ns, name)
	defer w.Stop()
	sent := time.Now()
	if err := env.Client.Patch(context.Background(), k, patch); err != nil {
		b.Fatal(err)
	}
	stored := time.Now()
	engine = await(b, w, k, func(k *kustomizev1.Kustomization) bool {
		return k.Status.LastHandledReconcileAt == value && conditions.IsReady(k)
	}, stored)
	return engine, engine + stored.Sub(sent)
}

// waitFor waits, by a watch (polling a Kustomization with a 5,000-entry
// inventory would cost the engine more CPU than the reconcile), until done
// holds for k, and returns the time since start.
func waitFor(b *testing.B, k *kustomizev1.Kustomization, done func(*kustomizev1.Kustomization) bool, start time.Time) time.Duration {
	b.Helper()
	w := watching(b, k.Namespace, k.Name)
	defer w.Stop()
	return await(b, w, k, done, start)
}

// watching opens a watch on the Kustomization ns/name. Opened before the
// change it waits for, its set-up (a client, discovery) is not measured.
func watching(b *testing.B, ns, name string) watch.Interface {
	b.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &kustomizev1.KustomizationList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": name})
	if err != nil {
		b.Fatal(err)
	}
	return w
}

// await reads w until done holds, sets k to what it read last and returns
// the time since start.
func await(b *testing.B, w watch.Interface, k *kustomizev1.Kustomization, done func(*kustomizev1.Kustomization) bool, start time.Time) time.Duration {
	b.Helper()
	timeout := time.After(10 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("%s: watch closed", k.Name)
			}
			got, ok := ev.Object.(*kustomizev1.Kustomization)
			if !ok {
				continue
			}
			if done(got) {
				elapsed := time.Since(start)
				*k = *got
				return elapsed
			}
			if conditions.IsFalse(got, meta.ReadyCondition) && conditions.GetReason(got, meta.ReadyCondition) != meta.DependencyNotReadyReason {
				b.Fatalf("%s: %s", got.Name, conditions.GetMessage(got, meta.ReadyCondition))
			}
		case <-timeout:
			b.Fatalf("%s: not done after 10 minutes", k.Name)
		}
	}
}
