package build

import (
	"context"
	"fmt"
	"maps"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/apply"
	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

// Label sets k's owner labels (apply.OwnerLabels, the ones Flux's
// kustomize-controller puts on every object it applies; pruning and
// deletion only ever touch objects that carry them) on every object, as
// the stage does before it applies them.
func Label(objs []*unstructured.Unstructured, k *kustomizev1.Kustomization) {
	owner := apply.OwnerLabels(k)
	for _, obj := range objs {
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, owner)
		obj.SetLabels(labels)
	}
}

// Decryptor returns the SOPS decryptor for k: with the keys of
// spec.decryption.secretRef, read through c, or with none, so that
// encrypted input without decryption fails clearly instead of being applied
// as ciphertext.
func Decryptor(ctx context.Context, c client.Reader, k *kustomizev1.Kustomization) (*decrypt.Decryptor, error) {
	if k.Spec.Decryption == nil || k.Spec.Decryption.SecretRef == nil {
		return decrypt.New(nil)
	}
	var sec corev1.Secret
	key := client.ObjectKey{Namespace: k.Namespace, Name: k.Spec.Decryption.SecretRef.Name}
	if err := c.Get(ctx, key, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("decryption secret '%s' not found", key)
		}
		return nil, fmt.Errorf("decryption secret '%s': %w", key, err)
	}
	d, err := decrypt.New(sec.Data)
	if err != nil {
		return nil, fmt.Errorf("decryption secret '%s': %w", key, err)
	}
	return d, nil
}
