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

// Credentials are the values a Receiver's Secret holds for verification.
type Credentials struct {
	Token []byte
	// Email and Audience are what a gcr Receiver expects of the Google ID
	// token (Secret keys "email" and "audience").
	Email, Audience string
}

// Lookup finds the Receiver serving a webhook path through the cache index,
// and reads its credentials. It returns a nil Receiver when none has the path.
func Lookup(ctx context.Context, c client.Reader, path string) (*notificationv1.Receiver, Credentials, error) {
	var list notificationv1.ReceiverList
	if err := c.List(ctx, &list, client.MatchingFields{WebhookPathIndex: path}); err != nil {
		return nil, Credentials{}, fmt.Errorf("looking up the receiver: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, Credentials{}, nil
	}
	// Paths are sha256 of token, name and namespace: a collision means two
	// Receivers share all three, which the API server forbids.
	rcv := &list.Items[0]
	if rcv.Spec.SecretRef == nil {
		return rcv, Credentials{}, nil
	}
	var s corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: rcv.Namespace, Name: rcv.Spec.SecretRef.Name}, &s); err != nil {
		return nil, Credentials{}, fmt.Errorf("reading the receiver token: %w", err)
	}
	return rcv, Credentials{
		Token:    bytes.TrimSpace(s.Data[tokenKey]),
		Email:    string(bytes.TrimSpace(s.Data["email"])),
		Audience: string(bytes.TrimSpace(s.Data["audience"])),
	}, nil
}
