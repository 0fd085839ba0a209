package receiver

import (
	"bytes"
	"context"
	"fmt"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Lookup finds the Receiver serving a webhook path through the cache index,
// and reads its token. It returns nil, nil when no Receiver has the path.
func Lookup(ctx context.Context, c client.Reader, path string) (*notificationv1.Receiver, []byte, error) {
	var list notificationv1.ReceiverList
	if err := c.List(ctx, &list, client.MatchingFields{WebhookPathIndex: path}); err != nil {
		return nil, nil, fmt.Errorf("looking up the receiver: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, nil, nil
	}
	// Paths are sha256 of token, name and namespace: a collision means two
	// Receivers share all three, which the API server forbids.
	rcv := &list.Items[0]
	if rcv.Spec.SecretRef == nil {
		return rcv, nil, nil
	}
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: rcv.Namespace, Name: rcv.Spec.SecretRef.Name}, &s); err != nil {
		return nil, nil, fmt.Errorf("reading the receiver token: %w", err)
	}
	return rcv, bytes.TrimSpace(s.Data[tokenKey]), nil
}
