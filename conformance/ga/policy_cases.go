package ga

import (
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var substituted = map[string]string{"deploy/a.yaml": configMap("a", "${greeting}")}

func substitute(vars map[string]string, from ...kustomizev1.SubstituteReference) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.PostBuild = &kustomizev1.PostBuild{Substitute: vars, SubstituteFrom: from}
	}
}

// valueCase expects ConfigMap a to end with value want.
func valueCase(name, doc string, files map[string]string, mutate func(*kustomizev1.Kustomization), want string) Case {
	return ksCase(name, doc, files, mutate, func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
		t.KsReady(ks, f.rev)
		t.ExpectValue(f.ns, "a", want)
	})
}

// varsCase creates a ConfigMap and a Secret named vars with data before
// the Kustomization.
func varsCase(name, doc string, kind string, optional bool, data map[string]string, files map[string]string, vars map[string]string, want string) Case {
	return Case{Name: "kustomization/" + name, Doc: doc, run: func(t *T) {
		f := t.Source(files)
		if data != nil {
			meta := metav1.ObjectMeta{Namespace: f.ns, Name: "vars"}
			if kind == "Secret" {
				t.Create(&corev1.Secret{ObjectMeta: meta, StringData: data})
			} else {
				t.Create(&corev1.ConfigMap{ObjectMeta: meta, Data: data})
			}
		}
		ks := t.Kustomization(f.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = f.ns
			substitute(vars, kustomizev1.SubstituteReference{Kind: kind, Name: "vars", Optional: optional})(k)
		})
		if want == "" {
			t.KsFailed(ks, "")
			return
		}
		t.KsReady(ks, f.rev)
		t.ExpectValue(f.ns, "a", want)
	}}
}

func patch(p string, target *kustomize.Selector) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.Patches = append(k.Spec.Patches, kustomize.Patch{Patch: p, Target: target})
	}
}

func kustomizationPolicyCases() []Case {
	return []Case{
		valueCase("substitute", "postBuild.substitute replaces ${var} in the manifests", substituted,
			substitute(map[string]string{"greeting": "hello"}), "hello"),
		valueCase("substitute-default", "${var:=default} takes the default when the variable is not set",
			map[string]string{"deploy/a.yaml": configMap("a", "${missing:=fallback}")}, substitute(map[string]string{"other": "x"}), "fallback"),
		valueCase("substitute-disabled", "an object annotated kustomize.toolkit.fluxcd.io/substitute: disabled is applied verbatim",
			map[string]string{"deploy/a.yaml": configMap("a", "${greeting}", annotated("kustomize.toolkit.fluxcd.io/substitute", "disabled"))},
			substitute(map[string]string{"greeting": "hello"}), "${greeting}"),
		varsCase("substitute-from-configmap", "postBuild.substituteFrom reads variables from a ConfigMap", "ConfigMap", false,
			map[string]string{"greeting": "from-configmap"}, substituted, nil, "from-configmap"),
		varsCase("substitute-from-secret", "postBuild.substituteFrom reads variables from a Secret", "Secret", false,
			map[string]string{"greeting": "from-secret"}, substituted, nil, "from-secret"),
		varsCase("substitute-from-optional", "an optional substituteFrom source that does not exist is skipped", "ConfigMap", true,
			nil, map[string]string{"deploy/a.yaml": configMap("a", "${greeting:=none}")}, map[string]string{"other": "x"}, "none"),
		varsCase("substitute-from-missing", "a required substituteFrom source that does not exist gives Ready=False", "ConfigMap", false,
			nil, substituted, nil, ""),
		varsCase("substitute-precedence", "postBuild.substitute overrides the same variable from substituteFrom", "ConfigMap", false,
			map[string]string{"greeting": "from-configmap"}, substituted, map[string]string{"greeting": "inline"}, "inline"),
		valueCase("patch-strategic-merge", "spec.patches applies a strategic merge patch to its target", twoMaps,
			patch("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  value: patched\n", &kustomize.Selector{Kind: "ConfigMap", Name: "a"}), "patched"),
		valueCase("patch-json6902", "spec.patches applies a JSON 6902 patch to its target", twoMaps,
			patch("- op: replace\n  path: /data/value\n  value: json\n", &kustomize.Selector{Kind: "ConfigMap", Name: "a"}), "json"),
		ksCase("patch-label-selector", "a patch target's labelSelector limits the patch to matching objects",
			map[string]string{"deploy/a.yaml": configMap("a", "1", "  labels:\n    tier: x"), "deploy/b.yaml": configMap("b", "1")},
			patch("- op: replace\n  path: /data/value\n  value: selected\n", &kustomize.Selector{Kind: "ConfigMap", LabelSelector: "tier=x"}),
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.ExpectValue(f.ns, "a", "selected")
				t.ExpectValue(f.ns, "b", "1")
			}),
		ksCase("images", "spec.images overrides a container image's name and tag",
			map[string]string{"deploy/d.yaml": deployment("web", "nginx:1.0")},
			func(k *kustomizev1.Kustomization) {
				k.Spec.Images = []kustomize.Image{{Name: "nginx", NewName: "registry.invalid/nginx", NewTag: "2.0"}}
			},
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.ExpectImage(f.ns, "web", "registry.invalid/nginx:2.0")
			}),
		ksCase("name-prefix-suffix", "spec.namePrefix and spec.nameSuffix rename the objects", twoMaps,
			func(k *kustomizev1.Kustomization) { k.Spec.NamePrefix, k.Spec.NameSuffix = "pre-", "-suf" },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.MustConfigMap(f.ns, "pre-a-suf")
				t.MustNotConfigMap(f.ns, "a", "the unprefixed one exists too")
			}),
		{Name: "kustomization/target-namespace", Doc: "spec.targetNamespace places the objects in that namespace", run: func(t *T) {
			f := t.Source(twoMaps)
			other := t.Namespace()
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = other })
			t.KsReady(ks, f.rev)
			t.MustConfigMap(other, "a")
		}},
		ksCase("common-metadata", "spec.commonMetadata adds labels and annotations to every object", twoMaps,
			func(k *kustomizev1.Kustomization) {
				k.Spec.CommonMetadata = &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "conf"}, Annotations: map[string]string{"note": "yes"}}
			},
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				cm := t.MustConfigMap(f.ns, "b")
				if cm.Labels["team"] != "conf" || cm.Annotations["note"] != "yes" {
					t.Fatalf("labels %v annotations %v lack the common metadata", cm.Labels, cm.Annotations)
				}
			}),
		ksCase("name-prefix-replaces", "spec.namePrefix replaces the namePrefix of the path's kustomization.yaml",
			map[string]string{"deploy/kustomization.yaml": "namePrefix: src-\nresources:\n- a.yaml\n", "deploy/a.yaml": configMap("a", "1")},
			func(k *kustomizev1.Kustomization) { k.Spec.NamePrefix = "pre-" },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.MustConfigMap(f.ns, "pre-a")
				t.MustNotConfigMap(f.ns, "pre-src-a", "both prefixes were applied")
			}),
		ksCase("patch-by-source-name", "spec.patches target objects by the names of the sources, before the kustomization's namePrefix",
			map[string]string{"deploy/kustomization.yaml": "namePrefix: src-\nresources:\n- a.yaml\n", "deploy/a.yaml": configMap("a", "1")},
			patch("- op: replace\n  path: /data/value\n  value: patched\n", &kustomize.Selector{Kind: "ConfigMap", Name: "a"}),
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.ExpectValue(f.ns, "src-a", "patched")
			}),
		ksCase("images-merge", "spec.images updates an image the kustomization.yaml already sets, field by field",
			map[string]string{"deploy/kustomization.yaml": "resources:\n- d.yaml\nimages:\n- name: nginx\n  newName: registry.invalid/nginx\n",
				"deploy/d.yaml": deployment("web", "nginx:1.0")},
			func(k *kustomizev1.Kustomization) { k.Spec.Images = []kustomize.Image{{Name: "nginx", NewTag: "2.0"}} },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.ExpectImage(f.ns, "web", "registry.invalid/nginx:2.0")
			}),
		ksCase("common-metadata-objects-only", "spec.commonMetadata sets the objects' own metadata, not their pod templates",
			map[string]string{"deploy/d.yaml": deployment("web", "nginx:1.0")},
			func(k *kustomizev1.Kustomization) {
				k.Spec.CommonMetadata = &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "conf"}, Annotations: map[string]string{"note": "yes"}}
			},
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				d := t.MustDeployment(f.ns, "web")
				if d.Labels["team"] != "conf" || d.Annotations["note"] != "yes" {
					t.Fatalf("labels %v annotations %v lack the common metadata", d.Labels, d.Annotations)
				}
				if _, ok := d.Spec.Template.Annotations["note"]; ok {
					t.Fatalf("the pod template got the common annotation: %v", d.Spec.Template.Annotations)
				}
				if _, ok := d.Spec.Template.Labels["team"]; ok {
					t.Fatalf("the pod template got the common label: %v", d.Spec.Template.Labels)
				}
			}),
		ksCase("plain-with-kustomization-dir", "in a path without kustomization.yaml, a directory with one is built by it",
			map[string]string{"deploy/a.yaml": configMap("a", "1"), "deploy/sub/kustomization.yaml": "resources:\n- b.yaml\n",
				"deploy/sub/b.yaml": configMap("b", "1"), "deploy/sub/c.yaml": configMap("c", "1")},
			nil,
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.MustConfigMap(f.ns, "a")
				t.MustConfigMap(f.ns, "b")
				t.MustNotConfigMap(f.ns, "c", "sub/kustomization.yaml does not list it")
			}),
		ksCase("force-off-immutable", "changing an immutable field without spec.force gives Ready=False",
			map[string]string{"deploy/a.yaml": configMap("a", "1") + "immutable: true\n"}, nil,
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				bad := t.Push(f, map[string]string{"deploy/a.yaml": configMap("a", "2") + "immutable: true\n"})
				t.WaitReady(ks, metav1.ConditionFalse, func() (bool, string) {
					return ks.Status.LastAttemptedRevision == bad, "lastAttemptedRevision " + ks.Status.LastAttemptedRevision
				})
				t.ExpectValue(f.ns, "a", "1")
			}),
		ksCase("force-recreates", "with spec.force, an object whose immutable field changed is recreated",
			map[string]string{"deploy/a.yaml": configMap("a", "1") + "immutable: true\n"}, func(k *kustomizev1.Kustomization) { k.Spec.Force = true },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.KsReady(ks, f.rev)
				t.KsReady(ks, t.Push(f, map[string]string{"deploy/a.yaml": configMap("a", "2") + "immutable: true\n"}))
				t.ExpectValue(f.ns, "a", "2")
			}),
		{Name: "kustomization/depends-on", Doc: "a Kustomization waits (DependencyNotReady) until the one it dependsOn is Ready, then applies", run: func(t *T) {
			f := t.Source(map[string]string{"first/a.yaml": configMap("a", "1"), "second/b.yaml": configMap("b", "1")})
			first := t.Kustomization(f.ns, "first", "late", "./first", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = f.ns })
			second := t.Kustomization(f.ns, "second", "src", "./second", func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace = f.ns
				k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "first"}}
			})
			t.WaitReady(second, metav1.ConditionFalse, func() (bool, string) {
				c := apimeta.FindStatusCondition(second.Status.Conditions, meta.ReadyCondition)
				return c.Reason == meta.DependencyNotReadyReason, describe(second)
			})
			if _, ok := t.ConfigMap(f.ns, "b"); ok {
				t.Fatalf("the dependent Kustomization applied before its dependency was Ready")
			}
			t.GitRepository(f.ns, "late", f.repo.URL)
			t.KsReady(first, f.rev)
			t.KsReady(second, f.rev)
			t.MustConfigMap(f.ns, "b")
		}},
		{Name: "kustomization/depends-on-namespace", Doc: "dependsOn can name a Kustomization in another namespace", run: func(t *T) {
			f := t.Source(map[string]string{"first/a.yaml": configMap("a", "1"), "second/b.yaml": configMap("b", "1")})
			t.KsReady(t.Kustomization(f.ns, "first", "src", "./first", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = f.ns }), f.rev)
			other := t.Namespace()
			second := t.Kustomization(other, "second", "src", "./second", func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace = other
				k.Spec.SourceRef.Namespace = f.ns
				k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "first", Namespace: f.ns}}
			})
			t.KsReady(second, f.rev)
			t.MustConfigMap(other, "b")
		}},
		ksCase("wait-ready", "with spec.wait, objects that are Current make the Kustomization Ready",
			twoMaps, func(k *kustomizev1.Kustomization) { k.Spec.Wait = true },
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) { t.KsReady(ks, f.rev) }),
		ksCase("wait-unhealthy", "with spec.wait, an object that never becomes Current (a PVC of a StorageClass that does not exist) gives Ready=False (HealthCheckFailed) once spec.timeout (at least 30 s in the API) passes",
			map[string]string{"deploy/pvc.yaml": unboundClaim},
			func(k *kustomizev1.Kustomization) {
				k.Spec.Wait = true
				k.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Second}
			},
			func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
				t.WaitReady(ks, metav1.ConditionFalse, func() (bool, string) {
					c := apimeta.FindStatusCondition(ks.Status.Conditions, meta.ReadyCondition)
					return c.Reason == meta.HealthCheckFailedReason, describe(ks)
				})
			}),
		{Name: "kustomization/health-checks", Doc: "spec.healthChecks holds Ready until the named object is Current (kstatus), then Ready=True", run: func(t *T) {
			f := t.Source(twoMaps)
			p := t.Probe(f.ns, "probe")
			t.SetProbe(p, "InProgress")
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", healthCheck(f.ns), func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = f.ns })
			t.MustEventuallyApplied(f.ns, "a")
			t.Consistently(2*time.Second, "Ready not True while the probe is in progress", func() (bool, string) {
				t.Get(ks)
				return !apimeta.IsStatusConditionTrue(ks.Status.Conditions, meta.ReadyCondition), describe(ks)
			})
			t.SetProbe(p, "Current")
			t.KsReady(ks, f.rev)
		}},
		{Name: "kustomization/health-check-exprs", Doc: "spec.healthCheckExprs decides a custom kind's health with CEL: not Ready until the current expression holds", run: func(t *T) {
			f := t.Source(twoMaps)
			p := t.Probe(f.ns, "probe")
			t.SetProbeStatus(p, map[string]any{"phase": "Pending"})
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", healthCheck(f.ns), func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace = f.ns
				k.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{APIVersion: probeGVK.GroupVersion().String(), Kind: probeGVK.Kind,
					HealthCheckExpressions: kustomize.HealthCheckExpressions{Current: "status.phase == 'Ready'", Failed: "status.phase == 'Broken'"}}}
			})
			t.MustEventuallyApplied(f.ns, "a")
			t.Consistently(2*time.Second, "Ready not True while the expression says in progress", func() (bool, string) {
				t.Get(ks)
				return !apimeta.IsStatusConditionTrue(ks.Status.Conditions, meta.ReadyCondition), describe(ks)
			})
			t.SetProbeStatus(p, map[string]any{"phase": "Ready"})
			t.KsReady(ks, f.rev)
		}},
		{Name: "kustomization/health-checks-failed", Doc: "a health-checked object that is Stalled gives Ready=False", run: func(t *T) {
			f := t.Source(twoMaps)
			t.SetProbe(t.Probe(f.ns, "probe"), "Failed")
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", healthCheck(f.ns), func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace = f.ns
				k.Spec.Timeout = &metav1.Duration{Duration: 5 * time.Second}
			})
			t.KsFailed(ks, "")
		}},
		{Name: "kustomization/impersonation-allowed", Doc: "with spec.serviceAccountName, objects the account may write are applied", run: func(t *T) {
			f := t.Source(twoMaps)
			t.Create(serviceAccount(f.ns, "deployer", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}})...)
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace, k.Spec.ServiceAccountName = f.ns, "deployer"
			})
			t.KsReady(ks, f.rev)
		}},
		{Name: "kustomization/impersonation-denied", Doc: "with spec.serviceAccountName, an object the account may not write gives Ready=False and is not created", run: func(t *T) {
			f := t.Source(merge(twoMaps, map[string]string{"deploy/s.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: v\n"}))
			t.Create(serviceAccount(f.ns, "deployer", rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}})...)
			ks := t.Kustomization(f.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace, k.Spec.ServiceAccountName = f.ns, "deployer"
			})
			t.KsFailed(ks, "")
			if t.Get(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "s"}}) {
				t.Fatalf("the Secret was created although the service account may not")
			}
		}},
		deletionCase("deletion-prune", "deleting a Kustomization with prune deletes its objects", true, "", false),
		deletionCase("deletion-no-prune", "deleting a Kustomization without prune keeps its objects", false, "", true),
		deletionCase("deletion-policy-orphan", "deletionPolicy Orphan keeps the objects even with prune", true, kustomizev1.DeletionPolicyOrphan, true),
		deletionCase("deletion-policy-delete", "deletionPolicy Delete deletes the objects even without prune", false, kustomizev1.DeletionPolicyDelete, false),
		deletionCase("deletion-policy-wait", "deletionPolicy WaitForTermination deletes the objects before the Kustomization goes", true, kustomizev1.DeletionPolicyWaitForTermination, false),
	}
}

func healthCheck(ns string) func(*kustomizev1.Kustomization) {
	return func(k *kustomizev1.Kustomization) {
		k.Spec.HealthChecks = []meta.NamespacedObjectKindReference{{APIVersion: probeGVK.GroupVersion().String(), Kind: probeGVK.Kind, Name: "probe", Namespace: ns}}
	}
}

// MustDeployment reads a Deployment that must have been applied.
func (t *T) MustDeployment(ns, name string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if !t.Get(d) {
		t.Fatalf("Deployment %s was not applied", name)
	}
	return d
}

// ExpectImage checks the first container image of Deployment ns/name.
func (t *T) ExpectImage(ns, name, want string) {
	d := t.MustDeployment(ns, name)
	if img := d.Spec.Template.Spec.Containers[0].Image; img != want {
		t.Fatalf("image %q, want %s", img, want)
	}
}

// MustEventuallyApplied waits until the ConfigMap exists.
func (t *T) MustEventuallyApplied(ns, name string) {
	t.Eventually(wait, fmt.Sprintf("ConfigMap %s/%s to be applied", ns, name), func() (bool, string) {
		_, ok := t.ConfigMap(ns, name)
		return ok, "missing"
	})
}

func deletionCase(name, doc string, prune bool, policy string, kept bool) Case {
	return ksCase(name, doc, twoMaps, func(k *kustomizev1.Kustomization) { k.Spec.Prune, k.Spec.DeletionPolicy = prune, policy },
		func(t *T, f *fixture, ks *kustomizev1.Kustomization) {
			t.KsReady(ks, f.rev)
			t.Delete(ks)
			t.Eventually(wait, "the Kustomization to be gone", func() (bool, string) {
				return !t.Get(ks), fmt.Sprintf("finalizers %v", ks.Finalizers)
			})
			if kept {
				t.Consistently(2*time.Second, "the objects to stay", func() (bool, string) {
					_, ok := t.ConfigMap(f.ns, "a")
					return ok, "ConfigMap a was deleted"
				})
				return
			}
			t.WaitGone(f.ns, "a")
		})
}

func serviceAccount(ns, name string, rules ...rbacv1.PolicyRule) []client.Object {
	m := metav1.ObjectMeta{Namespace: ns, Name: name}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: m},
		&rbacv1.Role{ObjectMeta: m, Rules: rules},
		&rbacv1.RoleBinding{ObjectMeta: m, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	}
}

func deployment(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[2]s
`, name, image)
}

// unboundClaim stays Pending on any cluster, with or without a kubelet or
// a provisioner: its StorageClass does not exist.
const unboundClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claim
spec:
  storageClassName: conformance-does-not-exist
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Mi
`
