package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

const revision = "main@sha1:0123456789abcdef0123456789abcdef01234567"

// console connects through a kubeconfig file, as the command line does.
func console(t *testing.T, ns string) (*Console, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	kube, got, err := Connection{Kubeconfig: env.KubeconfigFile(t), Namespace: ns}.Open()
	if err != nil {
		t.Fatal(err)
	}
	if got != ns {
		t.Fatalf("namespace %q, want %q", got, ns)
	}
	var out, errOut bytes.Buffer
	c, err := New(kube, Options{Out: &out, Err: &errOut, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, &out, &errOut
}

// setStatus writes status fields through the status subresource, as a
// controller does.
func setStatus(t *testing.T, obj client.Object, status map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Status().Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, body)); err != nil {
		t.Fatalf("patching the status of %s: %v", obj.GetName(), err)
	}
}

func readyStatus(status metav1.ConditionStatus, msg string, gen int64) map[string]any {
	return map[string]any{
		"observedGeneration": gen,
		"conditions": []metav1.Condition{{Type: meta.ReadyCondition, Status: status, Reason: "Test", Message: msg,
			ObservedGeneration: gen, LastTransitionTime: metav1.Now()}},
	}
}

// playController stands in for the engine's controller for one object: it
// watches it and, whenever reconcile.fluxcd.io/requestedAt changes, writes
// lastHandledReconcileAt, the observed generation, Ready=status with msg and
// the extra status fields. It stops when the test ends.
func playController(t *testing.T, k Kind, key types.NamespacedName, status metav1.ConditionStatus, msg string, extra map[string]any) {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := wc.Watch(ctx, k.newList(), client.InNamespace(key.Namespace), client.MatchingFields{"metadata.name": key.Name})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(client.Object)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			token := obj.GetAnnotations()[meta.ReconcileRequestAnnotation]
			if token == "" || token == k.status(obj).LastHandledReconcileAt {
				continue
			}
			st := readyStatus(status, msg, obj.GetGeneration())
			st["lastHandledReconcileAt"] = token
			for f, v := range extra {
				st[f] = v
			}
			body, _ := json.Marshal(map[string]any{"status": st})
			if err := env.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body)); err != nil && ctx.Err() == nil {
				t.Errorf("controller: %v", err)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		w.Stop()
		wg.Wait()
	})
}

func TestConnectionNamespace(t *testing.T) {
	g := NewWithT(t)
	path := env.KubeconfigFile(t)
	_, ns, err := Connection{Kubeconfig: path}.Open()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ns).To(Equal(DefaultNamespace), "no namespace in the kubeconfig")

	cfg, err := clientcmd.LoadFromFile(path)
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Contexts[cfg.CurrentContext].Namespace = "team-a"
	withNS := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(clientcmd.WriteToFile(*cfg, withNS)).To(Succeed())
	t.Setenv("KUBECONFIG", withNS)
	_, ns, err = Connection{}.Open()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ns).To(Equal("team-a"), "the context's namespace, found through $KUBECONFIG")
	_, ns, err = Connection{Namespace: "other"}.Open()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ns).To(Equal("other"), "the flag wins")

	_, _, err = Connection{Kubeconfig: path, Context: "nope"}.Open()
	g.Expect(err).To(MatchError(ContainSubstring("nope")))
	_, _, err = Connection{Kubeconfig: filepath.Join(t.TempDir(), "missing")}.Open()
	g.Expect(err).To(HaveOccurred())
	g.Expect(os.Getenv("KUBECONFIG")).To(Equal(withNS))
}

func TestGetTreeAndEventsOnAPIServer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	git := testenv.GitRepository(ns, "podinfo", "https://example.com/podinfo.git")
	ks := testenv.Kustomization(ns, "apps", "podinfo", "./apps")
	child := testenv.Kustomization(ns, "child", "podinfo", "./child", func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true })
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "podinfo")
	for _, o := range []client.Object{git, ks, child, rcv} {
		g.Expect(env.Client.Create(ctx, o)).To(Succeed())
	}
	gitStatus := readyStatus(metav1.ConditionTrue, "stored artifact for revision '"+revision+"'", 1)
	gitStatus["artifact"] = map[string]any{"path": "p", "url": "http://x/p", "revision": revision, "digest": "sha256:00", "lastUpdateTime": metav1.Now()}
	setStatus(t, git, gitStatus)
	ksStatus := readyStatus(metav1.ConditionFalse, "kustomization path not found:\nstat ./apps: no such file", 1)
	ksStatus["inventory"] = map[string]any{"entries": []map[string]string{
		{"id": ns + "_podinfo__ConfigMap", "v": "v1"},
		{"id": ns + "_child_kustomize.toolkit.fluxcd.io_Kustomization", "v": "v1"},
	}}
	setStatus(t, ks, ksStatus)
	setStatus(t, child, map[string]any{"inventory": map[string]any{"entries": []map[string]string{{"id": "_team-b__Namespace", "v": "v1"}}}})

	c, out, errOut := console(t, ns)
	g.Expect(c.Get(ctx, GetQuery{Kinds: Kinds(), Namespace: ns})).To(Succeed())
	g.Expect(out.String()).To(Equal(`NAME                    REVISION                                             SUSPENDED   READY   MESSAGE
gitrepository/podinfo   main@sha1:0123456789abcdef0123456789abcdef01234567   False       True    stored artifact for revision 'main@sha1:0123456789abcdef0123456789abcdef01234567'

NAME                  REVISION   SUSPENDED   READY     MESSAGE
kustomization/apps               False       False     kustomization path not found: stat ./apps: no such file
kustomization/child              True        Unknown   waiting to be reconciled

NAME            SUSPENDED   READY     MESSAGE
receiver/hook   False       Unknown   waiting to be reconciled
`))
	g.Expect(errOut.String()).To(BeEmpty())

	out.Reset()
	g.Expect(c.Get(ctx, GetQuery{Kinds: []Kind{mustKind(t, "ks")}, AllNamespaces: true, Format: FormatJSON})).To(Succeed())
	var rows []Row
	g.Expect(json.Unmarshal(out.Bytes(), &rows)).To(Succeed())
	g.Expect(rows).To(ContainElement(Row{Kind: "Kustomization", Namespace: ns, Name: "child", Suspended: true, Ready: metav1.ConditionUnknown, Message: "waiting to be reconciled"}))

	err := c.Get(ctx, GetQuery{Kinds: []Kind{mustKind(t, "ks")}, Namespace: ns, Name: "missing"})
	g.Expect(err).To(MatchError(ContainSubstring("not found")))

	out.Reset()
	tree, err := c.Tree(ctx, ns, "apps")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(c.PrintTree(tree, FormatTable)).To(Succeed())
	g.Expect(out.String()).To(Equal(strings.ReplaceAll(`Kustomization/NS/apps
├── ConfigMap/NS/podinfo
└── Kustomization/NS/child
    └── Namespace/team-b
`, "NS", ns)))

	for i, o := range []corev1.ObjectReference{
		{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind, Namespace: ns, Name: "apps"},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "podinfo"},
		{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind, Namespace: ns, Name: "podinfo"},
	} {
		at := metav1.NewTime(time.Now().Add(time.Duration(i-10) * time.Minute))
		g.Expect(env.Client.Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Namespace: ns, Name: "e" + string(rune('a'+i))},
			InvolvedObject: o, Type: corev1.EventTypeNormal, Reason: "Reason" + string(rune('A'+i)), Message: "m",
			FirstTimestamp: at, LastTimestamp: at, Count: 1,
		})).To(Succeed())
	}
	events, err := c.Events(ctx, EventQuery{Namespace: ns})
	g.Expect(err).NotTo(HaveOccurred())
	var reasons []string
	for _, e := range events {
		reasons = append(reasons, e.Reason)
	}
	g.Expect(reasons).To(Equal([]string{"ReasonA", "ReasonC"}), "only our kinds, oldest first")
}

func TestSuspendResumeOnAPIServer(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	ks := testenv.Kustomization(ns, "apps", "podinfo", "./apps")
	g.Expect(env.Client.Create(ctx, ks)).To(Succeed())
	key := client.ObjectKeyFromObject(ks)
	k := mustKind(t, "ks")
	c, _, errOut := console(t, ns)

	g.Expect(c.Suspend(ctx, k, key)).To(Succeed())
	got := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, key, got)).To(Succeed())
	g.Expect(got.Spec.Suspend).To(BeTrue())
	g.Expect(got.Annotations).NotTo(HaveKey(meta.ReconcileRequestAnnotation))
	g.Expect(errOut.String()).To(Equal("► suspending Kustomization apps in " + ns + " namespace\n✔ Kustomization suspended\n"))

	err := c.Reconcile(ctx, k, key, time.Second)
	g.Expect(errors.Is(err, ErrSuspended)).To(BeTrue(), "%v", err)
	err = c.ReconcileWithSource(ctx, key, time.Second)
	g.Expect(errors.Is(err, ErrSuspended)).To(BeTrue(), "%v", err)
	g.Expect(errOut.String()).NotTo(ContainSubstring("annotating"), "nothing is annotated for a suspended object")

	playController(t, k, key, metav1.ConditionTrue, "Applied revision: "+revision, map[string]any{"lastAppliedRevision": revision})
	errOut.Reset()
	g.Expect(c.Resume(ctx, k, key, true, 30*time.Second)).To(Succeed())
	g.Expect(env.Client.Get(ctx, key, got)).To(Succeed())
	g.Expect(got.Spec.Suspend).To(BeFalse())
	g.Expect(got.Annotations[meta.ReconcileRequestAnnotation]).To(Equal(got.Status.LastHandledReconcileAt))
	g.Expect(errOut.String()).To(Equal("► resuming Kustomization apps in " + ns + " namespace\n" +
		"✔ Kustomization resumed\n◎ waiting for Kustomization reconciliation\n" +
		"✔ Kustomization reconciliation completed\n✔ applied revision " + revision + "\n"))

	// Suspend and resume other kinds the same way, without waiting.
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "podinfo")
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	rk := mustKind(t, "receiver")
	g.Expect(c.Suspend(ctx, rk, client.ObjectKeyFromObject(rcv))).To(Succeed())
	g.Expect(c.Resume(ctx, rk, client.ObjectKeyFromObject(rcv), false, time.Second)).To(Succeed())
	gotRcv := &notificationv1.Receiver{}
	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), gotRcv)).To(Succeed())
	g.Expect(gotRcv.Spec.Suspend).To(BeFalse())
	g.Expect(gotRcv.Annotations).To(HaveKey(meta.ReconcileRequestAnnotation))

	err = c.Suspend(ctx, k, types.NamespacedName{Namespace: ns, Name: "missing"})
	g.Expect(err).To(MatchError(ContainSubstring("not found")))
	missing := &kustomizev1.Kustomization{}
	g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "missing"}, missing)).NotTo(Succeed(), "a patch never creates")
}

func TestReconcileOnAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	git := testenv.GitRepository(ns, "podinfo", "https://example.com/podinfo.git")
	ok := testenv.Kustomization(ns, "apps", "podinfo", "./apps")
	bad := testenv.Kustomization(ns, "broken", "podinfo", "./broken")
	idle := testenv.Kustomization(ns, "idle", "podinfo", "./idle")
	for _, o := range []client.Object{git, ok, bad, idle} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	ksKind, gitKind := mustKind(t, "ks"), mustKind(t, "source")
	playController(t, gitKind, client.ObjectKeyFromObject(git), metav1.ConditionTrue, "stored artifact", map[string]any{
		"artifact": map[string]any{"path": "p", "url": "http://x/p", "revision": revision, "digest": "sha256:00", "lastUpdateTime": metav1.Now()}})
	playController(t, ksKind, client.ObjectKeyFromObject(ok), metav1.ConditionTrue, "Applied revision: "+revision, map[string]any{"lastAppliedRevision": revision})
	playController(t, ksKind, client.ObjectKeyFromObject(bad), metav1.ConditionFalse, "kustomize build failed:\naccumulating resources", nil)

	t.Run("with source", func(t *testing.T) {
		g := NewWithT(t)
		c, _, errOut := console(t, ns)
		g.Expect(c.ReconcileWithSource(ctx, client.ObjectKeyFromObject(ok), 30*time.Second)).To(Succeed())
		g.Expect(errOut.String()).To(Equal(strings.NewReplacer("NS", ns, "REV", revision).Replace(`► annotating GitRepository podinfo in NS namespace
✔ GitRepository annotated
◎ waiting for GitRepository reconciliation
✔ GitRepository reconciliation completed
✔ fetched revision REV
► annotating Kustomization apps in NS namespace
✔ Kustomization annotated
◎ waiting for Kustomization reconciliation
✔ Kustomization reconciliation completed
✔ applied revision REV
`)))
	})
	t.Run("ready false fails", func(t *testing.T) {
		g := NewWithT(t)
		c, _, _ := console(t, ns)
		err := c.Reconcile(ctx, ksKind, client.ObjectKeyFromObject(bad), 30*time.Second)
		g.Expect(errors.Is(err, ErrNotReady)).To(BeTrue(), "%v", err)
		g.Expect(err).To(MatchError(ContainSubstring("kustomize build failed: accumulating resources")))
	})
	t.Run("times out without a controller", func(t *testing.T) {
		g := NewWithT(t)
		c, _, _ := console(t, ns)
		err := c.Reconcile(ctx, ksKind, client.ObjectKeyFromObject(idle), 500*time.Millisecond)
		g.Expect(errors.Is(err, context.DeadlineExceeded)).To(BeTrue(), "%v", err)
		g.Expect(err).To(MatchError(ContainSubstring("no Ready condition yet")))
	})
	t.Run("a handled request from before does not count", func(t *testing.T) {
		g := NewWithT(t)
		c, _, _ := console(t, ns)
		// Ready=True for an older request: the wait must not stop on it.
		st := readyStatus(metav1.ConditionTrue, "old", 1)
		st["lastHandledReconcileAt"] = "earlier"
		setStatus(t, idle, st)
		err := c.Reconcile(ctx, ksKind, client.ObjectKeyFromObject(idle), 500*time.Millisecond)
		g.Expect(err).To(MatchError(ContainSubstring("timed out")))
	})
}
