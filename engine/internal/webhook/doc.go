// Package webhook is the Receiver HTTP endpoint: it serves only /hook/<path>,
// finds the Receiver by its webhook path, verifies the request the way the
// Receiver's type demands, and asks for a trigger. One verifier per type:
//
//   - generic: none, the secret path is the credential.
//   - generic-hmac: X-Signature, "<algo>=<hex>" HMAC of the body with the token.
//   - github, bitbucket (Server and Cloud): X-Hub-Signature-256 or
//     X-Hub-Signature, as generic-hmac; events from X-GitHub-Event or
//     X-Event-Key are filtered by spec.events, pings are answered.
//   - gitlab: X-Gitlab-Token equals the token; X-Gitlab-Event is filtered.
//   - harbor: Authorization equals the token.
//   - nexus: X-Nexus-Webhook-Signature, hex HMAC-SHA1 of the body.
//   - dockerhub, quay, acr: unsigned; the body must be the registry's push
//     event (an ACR ping is answered without a trigger).
//   - cdevents: unsigned; the body must be a CDEvent, and Ce-Type is
//     filtered by spec.events.
//   - gcr: a Google-signed ID token (RS256, checked against Google's key
//     set) for the Secret's email and audience, and a Pub/Sub message body.
//   - generic-oidc: a bearer ID token from one of spec.oidcProviders (chosen
//     by its iss claim), verified with the keys the issuer publishes through
//     OpenID discovery (RS256), its audience, its validity period, then the
//     provider's CEL variables and validations over the claims; the message
//     of each failing validation is told to the caller.
//
// Secrets are compared in constant time; failed authentication is 401, a
// malformed request 400, and a key set that cannot be fetched 503.
//
// It must not import controller-runtime or any controller; the lookup and
// the trigger are passed in.
package webhook
