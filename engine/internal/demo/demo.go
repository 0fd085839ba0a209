package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
	"github.com/weir-gitops/weir/engine/internal/oci"
	"github.com/weir-gitops/weir/engine/internal/plugin"
)

// Namespace holds the demo's objects.
const Namespace = "weir-demo"

// Options configure the demo.
type Options struct {
	// RepoDir is served as the demo git repository.
	RepoDir string
	// WorkDir keeps the bare repository, the registry's storage, the
	// demo's signing key and its webhook token across runs.
	WorkDir string
	// PluginWasm is the built add-labels module; empty or missing: the
	// demo runs without a plugin and says so.
	PluginWasm string
	// RegistryBin is the docker-registry binary.
	RegistryBin string
	// ReceiverAddr is where the engine serves webhooks.
	ReceiverAddr string
	Out          io.Writer
	Log          logr.Logger
}

// Run sets the demo up against the cluster c talks to and narrates it
// until ctx ends.
func Run(ctx context.Context, c client.Client, opts Options) error {
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return err
	}
	git, err := startGitServer(filepath.Join(opts.WorkDir, "git"))
	if err != nil {
		return err
	}
	defer git.close()
	var last string
	if _, err := git.snapshot(ctx, "demo", opts.RepoDir, &last); err != nil {
		return fmt.Errorf("serving %s: %w", opts.RepoDir, err)
	}
	fmt.Fprintf(opts.Out, "► serving %s at %s\n", opts.RepoDir, git.url("demo"))

	pluginRef, pub, err := publishPlugin(ctx, opts)
	if err != nil {
		fmt.Fprintf(opts.Out, "✗ no plugin in this demo: %v\n", err)
	} else {
		fmt.Fprintf(opts.Out, "► pushed and signed the add-labels plugin: %s\n", pluginRef)
	}
	token, err := persistentToken(filepath.Join(opts.WorkDir, "webhook-token"))
	if err != nil {
		return err
	}
	if err := apply(ctx, c, objects(git.url("demo"), pluginRef, pub, token)); err != nil {
		return fmt.Errorf("applying the demo objects: %w", err)
	}
	fmt.Fprintf(opts.Out, "► applied GitRepository, Kustomizations infra and apps, Receiver and Plugin in namespace %s\n", Namespace)
	n := newNarrator(c, opts.Out, opts.ReceiverAddr, token)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if changed, err := git.snapshot(ctx, "demo", opts.RepoDir, &last); err != nil {
			opts.Log.Error(err, "re-committing the demo repository")
		} else if changed {
			fmt.Fprintf(opts.Out, "► %s changed: committed; call the webhook (curl above) to reconcile now\n", opts.RepoDir)
		}
		n.report(ctx)
	}
}

// publishPlugin pushes the add-labels module to a registry started for the
// demo and signs it with the demo's key pair (made on the first run).
func publishPlugin(ctx context.Context, opts Options) (string, []byte, error) {
	wasm, err := os.ReadFile(opts.PluginWasm)
	if err != nil {
		return "", nil, fmt.Errorf("%s not built (make plugins): %w", opts.PluginWasm, err)
	}
	meta, err := plugin.ReadMetadata(wasm)
	if err != nil {
		return "", nil, err
	}
	addr, err := startRegistry(ctx, opts.RegistryBin, filepath.Join(opts.WorkDir, "registry"))
	if err != nil {
		return "", nil, err
	}
	kp, err := keyPair(filepath.Join(opts.WorkDir, "cosign"))
	if err != nil {
		return "", nil, err
	}
	caps := make([]string, len(meta.Capabilities))
	for i, c := range meta.Capabilities {
		caps[i] = string(c)
	}
	tag := addr + "/demo/add-labels:" + meta.Version
	d, err := oci.Push(ctx, wasm, tag, oci.Module{Name: meta.Name, Version: meta.Version, ABIVersion: meta.ABIVersion, Capabilities: caps})
	if err != nil {
		return "", nil, err
	}
	s, err := oci.LoadSigner(kp.Private, nil)
	if err != nil {
		return "", nil, err
	}
	if err := oci.Sign(ctx, d, s); err != nil {
		return "", nil, err
	}
	return "oci://" + tag, kp.Public, nil
}

// keyPair loads the demo's cosign key pair, or makes one (no password: it
// only signs the demo's own plugin).
func keyPair(prefix string) (oci.KeyPair, error) {
	priv, err1 := os.ReadFile(prefix + ".key")
	pub, err2 := os.ReadFile(prefix + ".pub")
	if err1 == nil && err2 == nil {
		return oci.KeyPair{Private: priv, Public: pub}, nil
	}
	kp, err := oci.GenerateKeyPair(nil)
	if err != nil {
		return kp, err
	}
	if err := errors.Join(os.WriteFile(prefix+".key", kp.Private, 0o600), os.WriteFile(prefix+".pub", kp.Public, 0o644)); err != nil {
		return kp, err
	}
	return kp, nil
}

func persistentToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return string(b), nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	t := hex.EncodeToString(b)
	return t, os.WriteFile(path, []byte(t), 0o600)
}

// objects are the demo's objects; the Plugin and its key Secret only when
// a plugin was published.
func objects(repoURL, pluginRef string, pub []byte, token string) []client.Object {
	tm := func(apiVersion, kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: Namespace, Name: name} }
	minute := metav1.Duration{Duration: time.Minute}
	ks := func(name, path string, deps ...string) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{TypeMeta: tm(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind), ObjectMeta: om(name),
			Spec: kustomizev1.KustomizationSpec{Interval: minute, Path: path, Prune: true, Wait: true,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "demo"}}}
		for _, d := range deps {
			k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
		}
		return k
	}
	apps := ks("apps", "./apps", "infra")
	apps.Labels = map[string]string{"weir.dev/demo-transform": "enabled"}
	out := []client.Object{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: Namespace}},
		&sourcev1.GitRepository{TypeMeta: tm(sourcev1.GroupVersion.String(), sourcev1.GitRepositoryKind), ObjectMeta: om("demo"),
			Spec: sourcev1.GitRepositorySpec{URL: repoURL, Interval: minute, Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}},
		ks("infra", "./infra"),
		apps,
		&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: om("webhook-token"), StringData: map[string]string{"token": token}},
		&notificationv1.Receiver{TypeMeta: tm(notificationv1.GroupVersion.String(), notificationv1.ReceiverKind), ObjectMeta: om("demo"),
			Spec: notificationv1.ReceiverSpec{Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
				Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: "demo"}}}}},
	}
	if pluginRef != "" {
		out = append(out,
			&corev1.Secret{TypeMeta: tm("v1", "Secret"), ObjectMeta: om("plugin-keys"), StringData: map[string]string{"cosign.pub": string(pub)}},
			&v1alpha1.Plugin{TypeMeta: tm(v1alpha1.GroupVersion.String(), v1alpha1.PluginKind), ObjectMeta: om("add-labels"),
				Spec: v1alpha1.PluginSpec{URL: pluginRef, Interval: metav1.Duration{Duration: 10 * time.Minute},
					Verify:    v1alpha1.PluginVerification{Provider: "cosign", SecretRef: meta.LocalObjectReference{Name: "plugin-keys"}},
					Config:    &apiextensionsv1.JSON{Raw: []byte(`{"team":"demo","managed-by":"weir"}`)},
					Transform: &v1alpha1.TransformPoint{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"weir.dev/demo-transform": "enabled"}}}}})
	}
	return out
}

// apply server-side applies objs as the demo's field manager, so a second
// run updates what the first made.
func apply(ctx context.Context, c client.Client, objs []client.Object) error {
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return err
		}
		delete(m, "status")
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		if err := c.Patch(ctx, u, client.Apply, client.FieldOwner("weir-demo"), client.ForceOwnership); err != nil {
			return fmt.Errorf("%s %s: %w", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
	return nil
}
