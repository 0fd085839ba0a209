// Command loop never returns from a transform.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var n int

var _ = sdk.HandleTransform(func(context.Context, *sdk.ResourceList) error {
	for {
		n++
		if n == -1 {
			return nil
		}
	}
})

func main() {}
