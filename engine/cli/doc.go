// Package cli holds the engine's client-side commands that need the
// engine's internal packages: the plugin artifact commands, and `engine
// plugin test`, which adapts the plugin host to the conformance kit in
// conformance/pluginabi. cmd/engine mounts them; the package exports only
// the cobra constructors.
//
// It must not import the controllers.
package cli
