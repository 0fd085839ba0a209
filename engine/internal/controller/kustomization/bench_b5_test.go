package kustomization

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// BenchmarkB5DependsOnChain is issue 4's B5: ten Kustomizations of one
// source, each depending on the one before and waiting (wait: true) on its
// ConfigMap, all Ready at a first revision. A second revision is published
// and timed until the last of the chain has applied it and is Ready.
// ConfigMaps are healthy once applied, so there are no health delays; the
// target is 3 s.
func BenchmarkB5DependsOnChain(b *testing.B) {
	ctrl.SetLogger(logr.Discard())
	const depth = 10
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 100, 300
	env.ManagerWithConfig(b, cfg, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Options: Options{Concurrent: 10, NoRemoteBases: true}}
		return r.SetupWithManager(ctx, mgr)
	})
	a := newArtifacts(b)
	files := func(v string) map[string]string {
		out := map[string]string{}
		for i := range depth {
			out[fmt.Sprintf("k%d/cm.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k%d\ndata:\n  v: %q\n", i, v)
		}
		return out
	}
	for n := 0; n < b.N; n++ {
		ns := env.Namespace(b)
		a.publish(b, ns, "repo", "main@sha1:"+strings.Repeat("1", 40), files("one"))
		var last *kustomizev1.Kustomization
		for i := range depth {
			k := testenv.Kustomization(ns, fmt.Sprintf("k%d", i), "repo", fmt.Sprintf("./k%d", i), func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace, k.Spec.Wait = ns, true
				if i > 0 {
					k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: fmt.Sprintf("k%d", i-1)}}
				}
			})
			if err := env.Client.Create(context.Background(), k); err != nil {
				b.Fatal(err)
			}
			last = k
		}
		waitFor(b, last, func(k *kustomizev1.Kustomization) bool { return conditions.IsReady(k) }, time.Now())
		rev2 := "main@sha1:" + strings.Repeat("2", 40)
		w := watching(b, ns, last.Name)
		b.StartTimer()
		start := time.Now()
		a.publish(b, ns, "repo", rev2, files("two"))
		took := await(b, w, last, func(k *kustomizev1.Kustomization) bool {
			return conditions.IsReady(k) && k.Status.LastAppliedRevision == rev2
		}, start)
		b.StopTimer()
		w.Stop()
		b.ReportMetric(took.Seconds(), "s-chain")
	}
}
