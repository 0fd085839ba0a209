package testenv

import (
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
)

// GitRepository builds a GitRepository on branch main, polled every minute;
// opts change it further.
func GitRepository(ns, name, url string, opts ...func(*sourcev1.GitRepository)) *sourcev1.GitRepository {
	o := &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Interval:  metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// Kustomization builds a Kustomization of path in the GitRepository named
// source, pruning, every minute; opts change it further.
func Kustomization(ns, name, source, path string, opts ...func(*kustomizev1.Kustomization)) *kustomizev1.Kustomization {
	o := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  metav1.Duration{Duration: time.Minute},
			Path:      path,
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: source},
		},
	}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// Receiver builds a Receiver of type typ whose token is in the Secret named
// secret, triggering the GitRepository named target; opts change it further.
func Receiver(ns, name, typ, secret, target string, opts ...func(*notificationv1.Receiver)) *notificationv1.Receiver {
	o := &notificationv1.Receiver{
		TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1.GroupVersion.String(), Kind: notificationv1.ReceiverKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: notificationv1.ReceiverSpec{
			Type:      typ,
			Interval:  &metav1.Duration{Duration: 10 * time.Minute},
			SecretRef: &meta.LocalObjectReference{Name: secret},
			Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: target}}},
		},
	}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// Plugin builds a transform Plugin for every Kustomization in its namespace,
// verified with the keys in the Secret named keys; opts change it further.
func Plugin(ns, name, url, keys string, opts ...func(*weirv1alpha1.Plugin)) *weirv1alpha1.Plugin {
	o := &weirv1alpha1.Plugin{
		TypeMeta:   metav1.TypeMeta{APIVersion: weirv1alpha1.GroupVersion.String(), Kind: weirv1alpha1.PluginKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: weirv1alpha1.PluginSpec{
			URL:       url,
			Verify:    weirv1alpha1.PluginVerification{SecretRef: meta.LocalObjectReference{Name: keys}},
			Transform: &weirv1alpha1.TransformPoint{},
		},
	}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// Secret builds an Opaque Secret from string data.
func Secret(ns, name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}
}
