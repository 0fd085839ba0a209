//go:build tools

// Package tools pins the cosign CLI that the interoperability tests run
// against Weir's own signing and verification.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
