// Package engine is the composition root of Weir: Config and its flags, New
// and Start. It wires the stages (GitRepository, Kustomization, Receiver) and
// the Plugin controller into one controller-runtime manager. Everything else
// lives under engine/internal; this package is the only public engine API.
package engine
