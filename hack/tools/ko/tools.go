//go:build tools

// Package tools pins ko, which `make image` uses to build the engine's
// container image and push it to a registry without a Docker engine.
package tools

import _ "github.com/google/ko"
