// Package receiver reconciles notification.toolkit.fluxcd.io/v1 Receivers:
// it reads the token, derives status.webhookPath exactly as Flux does, and
// provides the lookup and trigger the webhook server uses. A trigger only
// annotates the target objects with reconcile.fluxcd.io/requestedAt; their
// own stages pick that up.
//
// It must not import other controllers; kinds talk through API objects.
package receiver
