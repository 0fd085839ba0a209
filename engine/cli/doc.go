// Package cli holds the engine's client-side commands that need the
// engine's internal packages (the plugin artifact commands). cmd/engine
// mounts them; the package exports only the cobra constructors.
//
// It must not import the controllers.
package cli
