package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/scheme"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s (run with -update to create it): %v", p, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ready(status metav1.ConditionStatus, reason, msg string) []metav1.Condition {
	return []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: reason, Message: msg,
		LastTransitionTime: metav1.NewTime(t0)}}
}

// fixtures are the objects the golden files are rendered from: two
// namespaces, every kind, ready, failed, suspended and never reconciled.
func fixtures() []client.Object {
	const rev = "main@sha1:4f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e"
	podinfo := testenv.GitRepository("flux-system", "podinfo", "https://example.com/podinfo.git")
	podinfo.Status.Artifact = &meta.Artifact{Revision: rev, Digest: "sha256:00", LastUpdateTime: metav1.NewTime(t0)}
	podinfo.Status.Conditions = ready(metav1.ConditionTrue, meta.SucceededReason, "stored artifact for revision '"+rev+"'")
	broken := testenv.GitRepository("flux-system", "broken", "https://example.com/missing.git")
	broken.Status.Conditions = ready(metav1.ConditionFalse, "GitOperationFailed", "failed to checkout and determine revision:\nunable to clone: repository not found")
	team := testenv.GitRepository("team-a", "app", "https://example.com/app.git", func(g *sourcev1.GitRepository) { g.Spec.Suspend = true })

	apps := testenv.Kustomization("flux-system", "apps", "podinfo", "./apps")
	apps.Status.LastAppliedRevision = rev
	apps.Status.Conditions = ready(metav1.ConditionTrue, meta.ReconciliationSucceededReason, "Applied revision: "+rev)
	infra := testenv.Kustomization("flux-system", "infra", "podinfo", "./infra")
	infra.Status.Conditions = ready(metav1.ConditionUnknown, meta.ProgressingReason, "Reconciliation in progress")
	teamKs := testenv.Kustomization("team-a", "app", "app", "./deploy", func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true })

	hook := testenv.Receiver("flux-system", "github", notificationv1.GitHubReceiver, "token", "podinfo")
	hook.Status.Conditions = ready(metav1.ConditionTrue, meta.SucceededReason, "Receiver initialized for path: /hook/abc")

	plg := testenv.Plugin("flux-system", "labels", "oci://registry.example.com/plugins/labels:v1", "cosign")
	plg.Status.Digest = "sha256:9a8b7c6d5e4f"
	plg.Status.Conditions = ready(metav1.ConditionTrue, meta.SucceededReason, "loaded and verified")
	return []client.Object{podinfo, broken, team, apps, infra, teamKs, hook, plg}
}

func fakeConsole(t *testing.T, objs ...client.Object) (*Console, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	var out, errOut bytes.Buffer
	c, err := New(kube, Options{Out: &out, Err: &errOut, Now: func() time.Time { return t0.Add(90 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	return c, &out, &errOut
}

func mustKind(t *testing.T, name string) Kind {
	t.Helper()
	k, err := LookupKind(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGetGolden(t *testing.T) {
	cases := []struct {
		golden string
		q      GetQuery
		color  bool
	}{
		{golden: "get-ks.txt", q: GetQuery{Kinds: []Kind{mustKind(t, "ks")}, Namespace: "flux-system"}},
		{golden: "get-sources-all-namespaces.txt", q: GetQuery{Kinds: []Kind{mustKind(t, "git")}, AllNamespaces: true}},
		{golden: "get-receivers.txt", q: GetQuery{Kinds: []Kind{mustKind(t, "receivers")}, Namespace: "flux-system"}},
		{golden: "get-all.txt", q: GetQuery{Kinds: Kinds(), Namespace: "flux-system"}},
		{golden: "get-all-all-namespaces.txt", q: GetQuery{Kinds: Kinds(), AllNamespaces: true}},
		{golden: "get-all-color.txt", q: GetQuery{Kinds: Kinds(), AllNamespaces: true}, color: true},
		{golden: "get-one.txt", q: GetQuery{Kinds: []Kind{mustKind(t, "plugins")}, Namespace: "flux-system", Name: "labels"}},
		{golden: "get-all.json", q: GetQuery{Kinds: Kinds(), Namespace: "flux-system", Format: FormatJSON}},
		{golden: "get-ks.yaml", q: GetQuery{Kinds: []Kind{mustKind(t, "ks")}, AllNamespaces: true, Format: FormatYAML}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			c, out, errOut := fakeConsole(t, fixtures()...)
			c.color = tc.color
			if err := c.Get(context.Background(), tc.q); err != nil {
				t.Fatal(err)
			}
			if errOut.Len() > 0 {
				t.Errorf("stderr: %s", errOut)
			}
			golden(t, tc.golden, out.Bytes())
		})
	}
}

func TestGetNothingFound(t *testing.T) {
	g := NewWithT(t)
	c, out, errOut := fakeConsole(t, fixtures()...)
	g.Expect(c.Get(context.Background(), GetQuery{Kinds: Kinds(), Namespace: "empty"})).To(Succeed())
	g.Expect(out.String()).To(BeEmpty())
	g.Expect(errOut.String()).To(Equal("no objects found in empty namespace\n"))

	c, out, _ = fakeConsole(t)
	g.Expect(c.Get(context.Background(), GetQuery{Kinds: Kinds(), Namespace: "empty", Format: FormatJSON})).To(Succeed())
	g.Expect(out.String()).To(Equal("[]\n"))
}

func TestTreeGolden(t *testing.T) {
	inv := func(ids ...string) *kustomizev1.ResourceInventory {
		r := &kustomizev1.ResourceInventory{}
		for _, id := range ids {
			r.Entries = append(r.Entries, kustomizev1.ResourceRef{ID: id, Version: "v1"})
		}
		return r
	}
	root := testenv.Kustomization("flux-system", "flux-system", "flux-system", "./clusters/prod")
	root.Status.Inventory = inv(
		"_podinfo__Namespace",
		"_system__weir:reader_rbac.authorization.k8s.io_ClusterRole",
		"flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization",
		"flux-system_infra_kustomize.toolkit.fluxcd.io_Kustomization",
		"flux-system_podinfo_source.toolkit.fluxcd.io_GitRepository",
	)
	apps := testenv.Kustomization("flux-system", "apps", "podinfo", "./apps")
	apps.Status.Inventory = inv(
		"podinfo_podinfo__Service",
		"podinfo_podinfo_apps_Deployment",
		"podinfo_podinfo_autoscaling_HorizontalPodAutoscaler",
		"flux-system_flux-system_kustomize.toolkit.fluxcd.io_Kustomization", // a cycle back to the root
	)
	infra := testenv.Kustomization("flux-system", "infra", "podinfo", "./infra")
	infra.Status.Inventory = inv(
		"flux-system_gone_kustomize.toolkit.fluxcd.io_Kustomization",
		"_monitoring__Namespace",
	)
	c, out, _ := fakeConsole(t, root, apps, infra)
	tree, err := c.Tree(context.Background(), "flux-system", "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PrintTree(tree, FormatTable); err != nil {
		t.Fatal(err)
	}
	golden(t, "tree.txt", out.Bytes())
	out.Reset()
	if err := c.PrintTree(tree, FormatJSON); err != nil {
		t.Fatal(err)
	}
	golden(t, "tree.json", out.Bytes())
}

func TestEventsGolden(t *testing.T) {
	event := func(ns, name string, obj corev1.ObjectReference, typ, reason, msg string, last time.Time, count int32) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: name},
			InvolvedObject: obj,
			Type:           typ, Reason: reason, Message: msg, Count: count,
			FirstTimestamp: metav1.NewTime(t0), LastTimestamp: metav1.NewTime(last),
		}
	}
	ks := corev1.ObjectReference{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind, Namespace: "flux-system", Name: "apps"}
	git := corev1.ObjectReference{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind, Namespace: "flux-system", Name: "podinfo"}
	plg := corev1.ObjectReference{APIVersion: weirv1alpha1.GroupVersion.String(), Kind: weirv1alpha1.PluginKind, Namespace: "team-a", Name: "labels"}
	deploy := corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "flux-system", Name: "podinfo"}
	c, out, _ := fakeConsole(t,
		event("flux-system", "e1", ks, corev1.EventTypeNormal, "ReconciliationSucceeded", "Reconciliation finished in 1.2s,\nnext run in 10m0s", t0.Add(80*time.Minute), 8),
		event("flux-system", "e2", git, corev1.EventTypeNormal, "NewArtifact", "stored artifact for commit 'Add podinfo'", t0.Add(10*time.Minute), 1),
		event("flux-system", "e3", ks, corev1.EventTypeWarning, "HealthCheckFailed", "Deployment/podinfo/podinfo not ready", t0.Add(89*time.Minute), 1),
		event("flux-system", "e4", deploy, corev1.EventTypeNormal, "ScalingReplicaSet", "not one of ours", t0.Add(85*time.Minute), 1),
		event("team-a", "e5", plg, corev1.EventTypeWarning, "VerificationFailed", "no signature matches", t0.Add(30*time.Minute), 1),
	)
	ctx := context.Background()
	for _, tc := range []struct {
		golden string
		q      EventQuery
	}{
		{"events.txt", EventQuery{Namespace: "flux-system"}},
		{"events-all-namespaces.txt", EventQuery{AllNamespaces: true}},
		{"events-for.txt", EventQuery{Namespace: "flux-system", For: "ks/apps"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out.Reset()
			if err := c.PrintEvents(ctx, tc.q); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, out.Bytes())
		})
	}
	if _, err := c.Events(ctx, EventQuery{For: "apps"}); err == nil {
		t.Error("--for without a kind was accepted")
	}
}

func TestLookupKind(t *testing.T) {
	g := NewWithT(t)
	for name, want := range map[string]string{
		"ks": "Kustomization", "Kustomizations": "Kustomization", "kustomization": "Kustomization",
		"git": "GitRepository", "sources": "GitRepository", "source": "GitRepository", "GitRepository": "GitRepository",
		"rcv": "Receiver", "receivers": "Receiver", "plugins": "Plugin", "plg": "Plugin",
	} {
		k, err := LookupKind(name)
		g.Expect(err).NotTo(HaveOccurred(), name)
		g.Expect(k.Kind).To(Equal(want), name)
	}
	_, err := LookupKind("helmreleases")
	g.Expect(err).To(MatchError(ContainSubstring(`unknown kind "helmreleases"`)))
}

func TestParseFormat(t *testing.T) {
	g := NewWithT(t)
	for _, s := range []string{"table", "json", "YAML"} {
		_, err := ParseFormat(s)
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err := ParseFormat("wide")
	g.Expect(err).To(HaveOccurred())
}

func TestColorEnabled(t *testing.T) {
	g := NewWithT(t)
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	g.Expect(ColorEnabled(&bytes.Buffer{}, env())).To(BeFalse(), "a buffer is not a terminal")
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	g.Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	g.Expect(ColorEnabled(f, env())).To(BeFalse(), "a regular file is not a terminal")
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		g.Expect(ColorEnabled(tty, env())).To(BeTrue())
		g.Expect(ColorEnabled(tty, env("NO_COLOR", "1"))).To(BeFalse())
		g.Expect(ColorEnabled(tty, env("TERM", "dumb"))).To(BeFalse())
	}
}

func TestNewValidates(t *testing.T) {
	g := NewWithT(t)
	_, err := New(nil, Options{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	g.Expect(err).To(HaveOccurred())
	s, err := scheme.New()
	g.Expect(err).NotTo(HaveOccurred())
	kube := fake.NewClientBuilder().WithScheme(s).Build()
	_, err = New(kube, Options{Out: &bytes.Buffer{}})
	g.Expect(err).To(HaveOccurred())
	_, err = New(kube, Options{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}, PollInterval: -time.Second})
	g.Expect(err).To(HaveOccurred())
}
