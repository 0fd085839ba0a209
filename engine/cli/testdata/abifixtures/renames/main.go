// Command renames appends "-v2" to the name of every object, without a
// result saying so.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var _ = sdk.HandleTransform(func(_ context.Context, rl *sdk.ResourceList) error {
	for _, o := range rl.Items {
		o.Set(o.Name()+"-v2", "metadata", "name")
	}
	return nil
})

func main() {}
