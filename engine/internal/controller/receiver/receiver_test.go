package receiver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

func startController(t *testing.T, opts Options) {
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor("notification-controller"), Options: opts}
		return r.SetupWithManager(ctx, mgr)
	})
}

func TestReceiverReadyWithFluxPath(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{})
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "token", map[string]string{"token": "s3cret"}))).To(Succeed())
	rcv := testenv.Receiver(ns, "hook", notificationv1.GitHubReceiver, "token", "app")
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())

	// Computed independently of the Flux API helper: sha256(token+name+namespace).
	want := fmt.Sprintf("/hook/%x", sha256.Sum256([]byte("s3cret"+"hook"+ns)))
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		g.Expect(got.Status.WebhookPath).To(Equal(want))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("Receiver initialized for path: " + want))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())

	// A reconcile request is acknowledged in status.lastHandledReconcileAt.
	patch := client.MergeFrom(rcv.DeepCopy())
	rcv.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now-1"}
	g.Expect(env.Client.Patch(ctx, rcv, patch)).To(Succeed())
	g.Eventually(func() string {
		got := &notificationv1.Receiver{}
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)
		return got.Status.LastHandledReconcileAt
	}, 20*time.Second, 100*time.Millisecond).Should(Equal("now-1"))
}

func TestReceiverTokenNotFoundThenCreated(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{})
	ns := env.Namespace(t)
	ctx := context.Background()
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "missing", "app")
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(notificationv1.TokenNotFoundReason))
		g.Expect(got.Status.WebhookPath).To(BeEmpty())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())

	// The Secret watch picks the new token up without waiting for the interval.
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "missing", map[string]string{"token": "t"}))).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		g.Expect(got.Status.WebhookPath).To(HavePrefix("/hook/"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestReceiverEmptyTokenRefused(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{})
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "token", map[string]string{"token": "  "}))).To(Succeed())
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "app")
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(notificationv1.TokenNotFoundReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("missing or empty"))
		g.Expect(got.Status.WebhookPath).To(BeEmpty())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestReceiverCrossNamespaceRefused(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{NoCrossNamespaceRefs: true})
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "token", map[string]string{"token": "x"}))).To(Succeed())
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "app", func(r *notificationv1.Receiver) {
		r.Spec.Resources[0].Namespace = "other"
	})
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.IsStalled(got)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("cross-namespace references are not allowed"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestTriggerAnnotatesTargets(t *testing.T) {
	g := NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		repo := testenv.GitRepository(ns, name, "https://example.com/repo.git")
		if name != "c" {
			repo.Labels = map[string]string{"team": "x"}
		}
		g.Expect(env.Client.Create(ctx, repo)).To(Succeed())
	}
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "*", func(r *notificationv1.Receiver) {
		r.Spec.Resources[0].MatchLabels = map[string]string{"team": "x"}
	})
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	n, err := Trigger(ctx, env.Client, rcv, false, now, nil, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(n).To(Equal(2))
	for name, want := range map[string]bool{"a": true, "b": true, "c": false} {
		got := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, got)).To(Succeed())
		v, ok := got.Annotations[meta.ReconcileRequestAnnotation]
		g.Expect(ok).To(Equal(want), name)
		if want {
			g.Expect(v).To(Equal(now.Format(time.RFC3339Nano)))
		}
	}

	// A missing target is an error that names it; a cross-namespace one is refused.
	missing := testenv.Receiver(ns, "hook2", notificationv1.GenericReceiver, "token", "nope")
	_, err = Trigger(ctx, env.Client, missing, false, now, nil, nil)
	g.Expect(err).To(MatchError(ContainSubstring("annotating GitRepository " + ns + "/nope")))
	cross := testenv.Receiver(ns, "hook3", notificationv1.GenericReceiver, "token", "a", func(r *notificationv1.Receiver) {
		r.Spec.Resources[0].Namespace = "elsewhere"
	})
	_, err = Trigger(ctx, env.Client, cross, true, now, nil, nil)
	g.Expect(err).To(MatchError(ContainSubstring("cross-namespace reference")))
}

func TestTriggerCELFilters(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	for _, name := range []string{"main-app", "dev-app", "other"} {
		repo := testenv.GitRepository(ns, name, "https://example.com/repo.git")
		repo.Labels = map[string]string{"team": "x", "branch": strings.TrimSuffix(name, "-app")}
		NewWithT(t).Expect(env.Client.Create(ctx, repo)).To(Succeed())
	}
	push := []byte(`{"ref":"refs/heads/main","repository":{"name":"repo"}}`)
	tests := []struct {
		name   string
		mutate func(*notificationv1.Receiver)
		body   []byte
		want   []string
		err    string
		claims map[string]any
	}{
		{"resourceFilter on res", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `res.metadata.name.endsWith('-app')`
		}, push, []string{"main-app", "dev-app"}, "", nil},
		{"resourceFilter on req and res", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `'refs/heads/' + res.metadata.labels.branch == req.ref`
		}, push, []string{"main-app"}, "", nil},
		{"per-resource filter and resourceFilter must both pass", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `res.metadata.name.endsWith('-app')`
			r.Spec.Resources[0].Filter = `res.metadata.name.startsWith('dev')`
		}, push, []string{"dev-app"}, "", nil},
		{"named resource with a filter that fails", func(r *notificationv1.Receiver) {
			r.Spec.Resources[0].Name = "other"
			r.Spec.Resources[0].MatchLabels = nil
			r.Spec.Resources[0].Filter = `req.ref == 'refs/heads/release'`
		}, push, nil, "", nil},
		{"body that is not JSON", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `true`
		}, []byte("not json"), nil, "not a JSON object", nil},
		{"invalid expression", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `res.metadata.name +`
		}, push, nil, "invalid CEL filter", nil},
		{"resourceFilter on OIDC claims", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `res.metadata.labels.branch == claims.ref_name`
		}, push, []string{"dev-app"}, "", map[string]any{"ref_name": "dev"}},
		{"claims are empty without OIDC", func(r *notificationv1.Receiver) {
			r.Spec.ResourceFilter = `!has(claims.ref_name)`
		}, push, []string{"main-app", "dev-app", "other"}, "", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "*", func(r *notificationv1.Receiver) {
				r.Spec.Resources[0].MatchLabels = map[string]string{"team": "x"}
				tt.mutate(r)
			})
			stamp := time.Date(2026, 1, 2, 3, 4, 5, i+1, time.UTC)
			n, err := Trigger(ctx, env.Client, rcv, false, stamp, tt.body, tt.claims)
			if tt.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(n).To(Equal(len(tt.want)))
			var got []string
			for _, name := range []string{"main-app", "dev-app", "other"} {
				o := &sourcev1.GitRepository{}
				g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o)).To(Succeed())
				if o.Annotations[meta.ReconcileRequestAnnotation] == stamp.Format(time.RFC3339Nano) {
					got = append(got, name)
				}
			}
			g.Expect(got).To(ConsistOf(tt.want))
		})
	}
}

func TestInvalidFilterStalls(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{})
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "token", map[string]string{"token": "x"}))).To(Succeed())
	rcv := testenv.Receiver(ns, "hook", notificationv1.GenericReceiver, "token", "app", func(r *notificationv1.Receiver) {
		r.Spec.Resources[0].Filter = `res.metadata.name ==`
	})
	g.Expect(env.Client.Create(ctx, rcv)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(rcv), got)).To(Succeed())
		g.Expect(conditions.IsStalled(got)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("spec.resources[0].filter: invalid CEL filter"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

func TestGenericOIDCReceiver(t *testing.T) {
	g := NewWithT(t)
	startController(t, Options{})
	ns := env.Namespace(t)
	ctx := context.Background()
	oidc := func(validation string) func(*notificationv1.Receiver) {
		return func(r *notificationv1.Receiver) {
			r.Spec.SecretRef = nil
			r.Spec.OIDCProviders = []notificationv1.OIDCProvider{{
				IssuerURL:   "https://token.actions.githubusercontent.com",
				Validations: []notificationv1.OIDCValidation{{Expression: validation, Message: "wrong owner"}},
			}}
		}
	}
	good := testenv.Receiver(ns, "ci", notificationv1.GenericOIDCReceiver, "", "app", oidc(`claims.repository_owner == 'my-org'`))
	bad := testenv.Receiver(ns, "broken", notificationv1.GenericOIDCReceiver, "", "app", oidc(`'yes'`))
	g.Expect(env.Client.Create(ctx, good)).To(Succeed())
	g.Expect(env.Client.Create(ctx, bad)).To(Succeed())

	// No token: the path hashes name and namespace alone.
	want := fmt.Sprintf("/hook/%x", sha256.Sum256([]byte("ci"+ns)))
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(good), got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		g.Expect(got.Status.WebhookPath).To(Equal(want))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		got := &notificationv1.Receiver{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(bad), got)).To(Succeed())
		g.Expect(conditions.IsStalled(got)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("spec.oidcProviders[0]"))
		g.Expect(got.Status.WebhookPath).To(BeEmpty())
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}
