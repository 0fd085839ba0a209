// Package cli is the logic behind the engine binary's daily commands, the
// ones a Flux user knows from the flux CLI: get, tree, reconcile, suspend,
// resume and events. It reads and patches GitRepository, Kustomization,
// Receiver and Plugin objects through the Kubernetes API only, renders
// aligned tables (coloured only for a terminal), JSON and YAML, and waits for
// a controller to acknowledge reconcile.fluxcd.io/requestedAt the way the
// flux CLI does. cmd/engine only wires flags to it.
//
// It talks to the engine's controllers through API objects alone: it must
// not import engine/internal/controller/... or any stage package (apply,
// build, artifact, source, webhook, plugin, oci). It may import api/, the
// Flux API modules and engine/internal/scheme.
package cli
