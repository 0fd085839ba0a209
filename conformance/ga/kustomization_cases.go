package ga

import (
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ksCase runs check against a fixture with files and a Kustomization "app"
// of ./deploy into the fixture's namespace, changed by mutate.
func ksCase(name, doc string, files map[string]string, mutate func(*kustomizev1.Kustomization), check func(t *T, f *fixture, ks *kustomizev1.Kustomization)) Case {
	return Case{Name: "kustomization/" + name, Doc: doc, run: func(t *T) {
		f := t.Source(files)
		ks := t.Kustomization(f.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = f.ns
			if mutate != nil {
				mutate(k)
			}
		})
		check(t, f, ks)
	}}
}

var twoMaps = map[string]string{
	"deploy/a.yaml": configMap("a", "1"),
	"deploy/b.yaml": configMap("b", "1"),
}

func kustomizationCases() []Case {
	return []Case{
		ksCase("apply", "objects are applied; Ready=True with reason ReconciliationSucceeded, lastApplied and lastAttempted revisions set",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				if c := apimeta.FindStatusCondition(ks.Status.Conditions, meta.ReadyCondition); c.Reason != meta.ReconciliationSucceededReason {
					t.Fatalf("Ready reason %q, want %q", c.Reason, meta.ReconciliationSucceededReason)
				}
				if ks.Status.LastAttemptedRevision != f.rev {
					t.Fatalf("lastAttemptedRevision %q, want %q", ks.Status.LastAttemptedRevision, f.rev)
				}
				t.ExpectValue(f.ns, "a", "1")
				t.ExpectValue(f.ns, "b", "1")
			}),
		ksCase("inventory", "status.inventory lists each applied object as <namespace>_<name>_<group>_<kind> with its version",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				if ks.Status.Inventory == nil {
					t.Fatalf("status.inventory is not set")
				}
				got := map[string]string{}
				for _, e := range ks.Status.Inventory.Entries {
					got[e.ID] = e.Version
				}
				for _, n := range []string{"a", "b"} {
					id := f.ns + "_" + n + "__ConfigMap"
					if got[id] != "v1" {
						t.Fatalf("inventory %v has no entry %s with version v1", got, id)
					}
				}
				if len(got) != 2 {
					t.Fatalf("inventory has %d entries, want 2: %v", len(got), got)
				}
			}),
		ksCase("owner-labels", "applied objects carry the kustomize.toolkit.fluxcd.io/name and /namespace labels",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				l := t.MustConfigMap(f.ns, "a").Labels
				if l["kustomize.toolkit.fluxcd.io/name"] != "app" || l["kustomize.toolkit.fluxcd.io/namespace"] != f.ns {
					t.Fatalf("labels %v lack the owner labels", l)
				}
			}),
		ksCase("plain-directory", "a path without kustomization.yaml applies every manifest below it, subdirectories included",
			map[string]string{"deploy/a.yaml": configMap("a", "1"), "deploy/sub/b.yaml": configMap("b", "1")}, nil,
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.MustConfigMap(f.ns, "a")
				t.MustConfigMap(f.ns, "b")
			}),
		ksCase("kustomization-yaml", "a kustomization.yaml at the path decides what is built: unlisted files are not applied",
			merge(twoMaps, map[string]string{"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"}), nil,
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.MustConfigMap(f.ns, "a")
				t.MustNotConfigMap(f.ns, "b", "b.yaml is not in kustomization.yaml's resources")
			}),
		ksCase("path-not-found", "a path missing from the artifact gives Ready=False",
			twoMaps, func(k *kustomizev1.Kustomization) { k.Spec.Path = "./missing" },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) { t.KsFailed(ks, "") }),
		ksCase("source-not-found", "a sourceRef to a missing GitRepository gives Ready=False with a message that says so",
			twoMaps, func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "missing" },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) { t.KsFailed(ks, "not found") }),
		ksCase("build-failure", "a manifest that does not build gives Ready=False and leaves the applied objects alone",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				good := f.rev
				t.KsReady(ks, good)
				bad := t.Push(f, map[string]string{"deploy/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, map\n"})
				t.WaitReady(ks, metav1.ConditionFalse, func() (bool, string) {
					return ks.Status.LastAttemptedRevision == bad, "lastAttemptedRevision " + ks.Status.LastAttemptedRevision
				})
				if ks.Status.LastAppliedRevision != good {
					t.Fatalf("lastAppliedRevision %q, want the last good %q", ks.Status.LastAppliedRevision, good)
				}
				t.MustConfigMap(f.ns, "a")
			}),
		ksCase("new-revision", "a new source revision is applied and recorded as lastAppliedRevision",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				next := t.Push(f, map[string]string{"deploy/a.yaml": configMap("a", "2")})
				t.KsReady(ks, next)
				t.ExpectValue(f.ns, "a", "2")
			}),
		ksCase("prune", "with prune, an object removed from the source is deleted and leaves the inventory",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				next := t.Push(f, map[string]string{"deploy/b.yaml": ""})
				t.KsReady(ks, next)
				t.WaitGone(f.ns, "b")
				for _, e := range ks.Status.Inventory.Entries {
					if strings.Contains(e.ID, "_b_") {
						t.Fatalf("pruned object %s is still in the inventory", e.ID)
					}
				}
			}),
		ksCase("prune-off", "without prune, an object removed from the source stays",
			twoMaps, func(k *kustomizev1.Kustomization) { k.Spec.Prune = false },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.KsReady(ks, t.Push(f, map[string]string{"deploy/b.yaml": ""}))
				t.MustConfigMap(f.ns, "b")
			}),
		ksCase("prune-disabled-annotation", "an object annotated kustomize.toolkit.fluxcd.io/prune: disabled is not pruned",
			map[string]string{"deploy/a.yaml": configMap("a", "1"), "deploy/b.yaml": configMap("b", "1", "  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled")},
			nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.KsReady(ks, t.Push(f, map[string]string{"deploy/b.yaml": ""}))
				t.MustConfigMap(f.ns, "b")
			}),
		ksCase("drift-correction", "a field changed in the cluster is restored on the next reconciliation",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				cm := t.MustConfigMap(f.ns, "a")
				t.Update(cm, func() { cm.Data["value"] = "drifted" })
				t.Reconcile(ks)
				t.Eventually(wait, "the drifted value to be restored", func() (bool, string) {
					v := t.MustConfigMap(f.ns, "a").Data["value"]
					return v == "1", "value " + v
				})
			}),
		ksCase("drift-deleted-object", "an applied object deleted from the cluster is recreated on the next reconciliation",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.Delete(t.MustConfigMap(f.ns, "a"))
				t.WaitGone(f.ns, "a")
				t.Reconcile(ks)
				t.Eventually(wait, "the deleted object to be recreated", func() (bool, string) {
					_, ok := t.ConfigMap(f.ns, "a")
					return ok, "missing"
				})
			}),
		ksCase("ssa-if-not-present", "an object annotated kustomize.toolkit.fluxcd.io/ssa: IfNotPresent is created but not overwritten",
			map[string]string{"deploy/a.yaml": configMap("a", "1", annotated("kustomize.toolkit.fluxcd.io/ssa", "IfNotPresent"))},
			nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				cm := t.MustConfigMap(f.ns, "a")
				t.Update(cm, func() { cm.Data["value"] = "mine" })
				t.Reconcile(ks)
				t.KsReady(ks, f.rev)
				t.ExpectValue(f.ns, "a", "mine")
			}),
		ksCase("reconcile-request", "the requestedAt annotation triggers a reconciliation recorded in status.lastHandledReconcileAt",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.Reconcile(ks)
			}),
		ksCase("suspend", "a suspended Kustomization applies no new revision until resumed",
			twoMaps, nil, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.Update(ks, func() { ks.Spec.Suspend = true })
				next := t.Push(f, map[string]string{"deploy/a.yaml": configMap("a", "2")})
				t.Consistently(3*time.Second, "the old value to stay while suspended", func() (bool, string) {
					v := t.MustConfigMap(f.ns, "a").Data["value"]
					return v == "1", "value " + v
				})
				t.Update(ks, func() { ks.Spec.Suspend = false })
				t.KsReady(ks, next)
				t.ExpectValue(f.ns, "a", "2")
			}),
		{Name: "kustomization/namespace-first", Doc: "a Namespace and objects in it, in one revision, are applied together", run: func(t *T) {
			ns := t.Namespace()
			extra := ns + "-x"
			t.Cleanup(func() { t.deleteNamespace(extra) })
			f := t.SourceIn(ns, map[string]string{
				"deploy/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + extra + "\n",
				"deploy/cm.yaml": strings.Replace(configMap("inside", "1"), "  name: inside", "  name: inside\n  namespace: "+extra, 1)})
			t.KsReady(t.Kustomization(ns, "app", "src", "./deploy"), f.rev)
			t.MustConfigMap(extra, "inside")
		}},
		ksCase("crd-and-custom-resource", "a CRD and a custom resource of it, in one revision, are applied together",
			map[string]string{"deploy/cm.yaml": configMap("a", "1")}, nil,
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				group := f.ns + ".conformance.weir.dev"
				t.Cleanup(func() { t.deleteCRD("widgets." + group) })
				next := t.Push(f, map[string]string{"deploy/crd.yaml": widgetCRD(group), "deploy/w.yaml": "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: w\n"})
				t.KsReady(ks, next)
			}),
	}
}
