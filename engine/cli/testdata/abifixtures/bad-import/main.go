// Command bad-import is a passthrough transform that imports a host
// function the ABI does not offer.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

//go:wasmimport env now
func now() int64

var _ = sdk.HandleTransform(func(_ context.Context, rl *sdk.ResourceList) error {
	if now() < 0 {
		rl.Items = nil
	}
	return nil
})

func main() {}
