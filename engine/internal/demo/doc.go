// Package demo sets up and narrates the `make run` demo: it serves a
// folder of this repository as a git repository (re-committing it when the
// files change), starts a local OCI registry, pushes and signs the
// add-labels example plugin with a key made for the demo, applies a
// GitRepository, two Kustomizations with dependsOn, a Receiver and a
// Plugin, and prints each object's progress as it becomes Ready.
//
// It is a client of the engine like any user: it talks to the API server
// and never imports the controllers.
package demo
