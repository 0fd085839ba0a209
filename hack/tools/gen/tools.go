//go:build tools

// Package tools pins the code generators that `make generate` and
// `make manifests` run, so every machine uses the same versions.
package tools

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
