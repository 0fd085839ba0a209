// Package scheme builds the runtime.Scheme every part of the engine shares:
// the built-in kinds, Flux's three GA kinds and the engine's own kinds. It
// must not import engine code other than api/.
package scheme

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
)

// New returns a new scheme with every kind the engine reads or writes.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		sourcev1.AddToScheme,
		kustomizev1.AddToScheme,
		notificationv1.AddToScheme,
		weirv1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("building the scheme: %w", err)
		}
	}
	return s, nil
}
