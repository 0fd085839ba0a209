// Package gitserver is a real git remote for tests and conformance runs:
// bare repositories served over git's smart HTTP protocol by
// `git http-backend`, with working copies that commit and push to them.
//
// It needs the git binary and nothing else; it must not import Kubernetes
// or the engine.
package gitserver
