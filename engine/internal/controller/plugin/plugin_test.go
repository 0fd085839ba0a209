package plugin

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/google/go-containerregistry/pkg/name"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/oci"
	wasm "github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/engine/internal/testenv"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

// fixture is one registry, one key pair trusted by the Plugins and one that
// is not, and a controller serving into its own catalog.
type fixture struct {
	reg      *testenv.Registry
	trusted  oci.KeyPair
	stranger oci.KeyPair
	catalog  *wasm.Catalog
	ns       string
}

func setup(t *testing.T, regOpts ...testenv.RegistryOption) *fixture {
	t.Helper()
	f := &fixture{reg: testenv.StartRegistry(t, regOpts...), catalog: wasm.NewCatalog(), ns: env.Namespace(t)}
	var err error
	if f.trusted, err = oci.GenerateKeyPair([]byte("pw")); err != nil {
		t.Fatal(err)
	}
	if f.stranger, err = oci.GenerateKeyPair([]byte("pw")); err != nil {
		t.Fatal(err)
	}
	host, err := wasm.NewHost(wasm.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close(context.Background()) })
	env.Manager(t, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &Reconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorderFor(FieldOwner),
			Host: host, Catalog: f.catalog, Options: Options{ModuleDir: t.TempDir()}}
		return r.SetupWithManager(ctx, mgr)
	})
	ctx := context.Background()
	if err := env.Client.Create(ctx, testenv.Secret(f.ns, "keys", map[string]string{"trusted.pub": string(f.trusted.Public)})); err != nil {
		t.Fatal(err)
	}
	return f
}

// push uploads module under repo:tag, signed by signer when not nil.
func (f *fixture) push(t *testing.T, module []byte, repo, tag, version string, signer *oci.KeyPair, opts ...oci.Option) name.Digest {
	t.Helper()
	ctx := context.Background()
	d, err := oci.Push(ctx, module, f.reg.Host+"/"+repo+":"+tag,
		oci.Module{Name: repo, Version: version, ABIVersion: "v1", Capabilities: []string{"transform"}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if signer != nil {
		s, err := oci.LoadSigner(signer.Private, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		if err := oci.Sign(ctx, d, s, opts...); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func get(g Gomega, key client.ObjectKey) *v1alpha1.Plugin {
	p := &v1alpha1.Plugin{}
	g.Expect(env.Client.Get(context.Background(), key, p)).To(Succeed())
	return p
}

func requestReconcile(t *testing.T, p *v1alpha1.Plugin, value string) {
	t.Helper()
	patch := client.MergeFrom(p.DeepCopy())
	p.Annotations = map[string]string{meta.ReconcileRequestAnnotation: value}
	if err := env.Client.Patch(context.Background(), p, patch); err != nil {
		t.Fatal(err)
	}
}

const timeout = 60 * time.Second

func TestPluginVerifiedCompiledAndServed(t *testing.T) {
	g := NewWithT(t)
	f := setup(t)
	ctx := context.Background()
	module := testenv.ExamplePlugin(t, "add-labels")
	d1 := f.push(t, module, "add-labels", "stable", "0.1.0", &f.trusted)

	p := testenv.Plugin(f.ns, "labels", "oci://"+f.reg.Host+"/add-labels:stable", "keys", func(p *v1alpha1.Plugin) {
		p.Spec.Config = jsonConfig(map[string]any{"team": "platform"})
	})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	key := client.ObjectKeyFromObject(p)
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(conditions.IsReady(got)).To(BeTrue(), conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.Digest).To(Equal(d1.DigestStr()))
		g.Expect(got.Status.ABIVersion).To(Equal("v1"))
		g.Expect(got.Status.Capabilities).To(Equal([]string{"transform"}))
		g.Expect(conditions.IsTrue(got, v1alpha1.SourceVerifiedCondition)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, v1alpha1.SourceVerifiedCondition)).To(ContainSubstring("trusted.pub"))
	}, timeout, 200*time.Millisecond).Should(Succeed())

	// The catalog serves the module, with the Plugin's config.
	e, ok := f.catalog.Get(wasm.Key{Namespace: f.ns, Name: "labels"})
	g.Expect(ok).To(BeTrue())
	g.Expect(e.Digest).To(Equal(d1.DigestStr()))
	out, err := e.Plugin.Transform(ctx, &abi.ResourceList{Items: []map[string]any{{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a"}}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Items[0]["metadata"]).To(HaveKeyWithValue("labels", HaveKeyWithValue("team", "platform")))

	// The tag moves to an unsigned digest: the verified one keeps serving.
	f.push(t, module, "add-labels", "stable", "0.2.0-unsigned", nil)
	requestReconcile(t, get(g, key), "moved-unsigned")
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(got.Status.LastHandledReconcileAt).To(Equal("moved-unsigned"))
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(v1alpha1.VerificationFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("still serving the verified " + d1.DigestStr()))
		g.Expect(conditions.IsFalse(got, v1alpha1.SourceVerifiedCondition)).To(BeTrue())
	}, timeout, 200*time.Millisecond).Should(Succeed())
	e, _ = f.catalog.Get(wasm.Key{Namespace: f.ns, Name: "labels"})
	g.Expect(e.Digest).To(Equal(d1.DigestStr()), "only the verified digest runs")

	// A signed new digest replaces it.
	d3 := f.push(t, module, "add-labels", "stable", "0.3.0", &f.trusted)
	requestReconcile(t, get(g, key), "moved-signed")
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(conditions.IsReady(got)).To(BeTrue())
		g.Expect(got.Status.Digest).To(Equal(d3.DigestStr()))
	}, timeout, 200*time.Millisecond).Should(Succeed())
	e, _ = f.catalog.Get(wasm.Key{Namespace: f.ns, Name: "labels"})
	g.Expect(e.Digest).To(Equal(d3.DigestStr()))

	// The registry goes down: Ready=False, the verified module keeps serving.
	f.reg.Stop()
	requestReconcile(t, get(g, key), "registry-down")
	g.Eventually(func(g Gomega) {
		got := get(g, key)
		g.Expect(got.Status.LastHandledReconcileAt).To(Equal("registry-down"))
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(v1alpha1.PullFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("still serving the verified " + d3.DigestStr()))
	}, timeout, 200*time.Millisecond).Should(Succeed())
	_, ok = f.catalog.Get(wasm.Key{Namespace: f.ns, Name: "labels"})
	g.Expect(ok).To(BeTrue())

	// Deleting the Plugin unloads it.
	g.Expect(env.Client.Delete(ctx, get(g, key))).To(Succeed())
	g.Eventually(func() bool { _, ok := f.catalog.Get(wasm.Key{Namespace: f.ns, Name: "labels"}); return ok }, timeout).Should(BeFalse())
}

func TestPluginRefusals(t *testing.T) {
	f := setup(t)
	module := testenv.ExamplePlugin(t, "add-labels")
	unsigned := f.push(t, module, "unsigned", "v1", "0.1.0", nil)
	stranger := f.push(t, module, "stranger", "v1", "0.1.0", &f.stranger)
	signed := f.push(t, module, "signed", "v1", "0.1.0", &f.trusted)
	_ = unsigned
	_ = stranger
	ctx := context.Background()
	if err := env.Client.Create(ctx, testenv.Secret(f.ns, "no-pub", map[string]string{"readme": "x"})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		mutate   func(*v1alpha1.Plugin)
		reason   string
		message  string
		verified metav1.ConditionStatus
	}{
		{"unsigned", "/unsigned:v1", nil, v1alpha1.VerificationFailedReason, "no signature found", metav1.ConditionFalse},
		{"signed by another key", "/stranger:v1", nil, v1alpha1.VerificationFailedReason, "trusted.pub", metav1.ConditionFalse},
		{"no keys in the secret", "/signed:v1", func(p *v1alpha1.Plugin) { p.Spec.Verify.SecretRef.Name = "no-pub" },
			v1alpha1.VerificationKeysMissingReason, "no key ending in .pub", metav1.ConditionFalse},
		{"missing key secret", "/signed:v1", func(p *v1alpha1.Plugin) { p.Spec.Verify.SecretRef.Name = "absent" },
			v1alpha1.VerificationKeysMissingReason, "not found", metav1.ConditionFalse},
		{"capability the module lacks", "/signed:v1", func(p *v1alpha1.Plugin) {
			p.Spec.Health = &v1alpha1.HealthPoint{Kinds: []v1alpha1.KindReference{{APIVersion: "v1", Kind: "Pod"}}}
		}, v1alpha1.ABIMismatchReason, "spec.health is set", metav1.ConditionTrue},
		{"unknown tag", "/signed:nope", nil, v1alpha1.PullFailedReason, "nope", ""},
		{"registry credentials missing", "/signed:v1", func(p *v1alpha1.Plugin) {
			p.Spec.SecretRef = &meta.LocalObjectReference{Name: "absent-creds"}
		}, v1alpha1.AuthenticationFailedReason, "not found", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			p := testenv.Plugin(f.ns, "p"+string(rune('a'+i)), "oci://"+f.reg.Host+tt.url, "keys", tt.mutate)
			g.Expect(env.Client.Create(ctx, p)).To(Succeed())
			g.Eventually(func(g Gomega) {
				got := get(g, client.ObjectKeyFromObject(p))
				g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
				g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(tt.reason))
				g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(tt.message))
				if tt.verified != "" {
					c := conditions.Get(got, v1alpha1.SourceVerifiedCondition)
					g.Expect(c).NotTo(BeNil())
					g.Expect(c.Status).To(Equal(tt.verified))
				}
				g.Expect(got.Status.Digest).To(BeEmpty())
			}, timeout, 200*time.Millisecond).Should(Succeed())
			_, ok := f.catalog.Get(wasm.Key{Namespace: f.ns, Name: p.Name})
			g.Expect(ok).To(BeFalse(), "nothing refused is ever loaded")
		})
	}
	_ = signed
}

func TestPluginRegistryCredentials(t *testing.T) {
	g := NewWithT(t)
	f := setup(t, testenv.WithBasicAuth("weir", "pull-secret"))
	ctx := context.Background()
	kc, err := oci.KeychainFromDockerConfig(f.reg.DockerConfig())
	g.Expect(err).NotTo(HaveOccurred())
	d := f.push(t, testenv.ExamplePlugin(t, "add-labels"), "private", "v1", "0.1.0", &f.trusted, oci.WithKeychain(kc))
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "creds"},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: f.reg.DockerConfig()},
	}
	g.Expect(env.Client.Create(ctx, creds)).To(Succeed())
	p := testenv.Plugin(f.ns, "private", "oci://"+f.reg.Host+"/private:v1", "keys", func(p *v1alpha1.Plugin) {
		p.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
	})
	g.Expect(env.Client.Create(ctx, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g, client.ObjectKeyFromObject(p))
		g.Expect(conditions.IsReady(got)).To(BeTrue(), conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.Digest).To(Equal(d.DigestStr()))
	}, timeout, 200*time.Millisecond).Should(Succeed())

	// Without the credentials the registry refuses, and the message holds
	// no secret.
	anon := testenv.Plugin(f.ns, "anon", "oci://"+f.reg.Host+"/private:v1", "keys")
	g.Expect(env.Client.Create(ctx, anon)).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := get(g, client.ObjectKeyFromObject(anon))
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(v1alpha1.PullFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).NotTo(ContainSubstring("pull-secret"))
	}, timeout, 200*time.Millisecond).Should(Succeed())
}

func jsonConfig(v map[string]any) *apiextensionsv1.JSON {
	b, _ := json.Marshal(v)
	return &apiextensionsv1.JSON{Raw: b}
}
