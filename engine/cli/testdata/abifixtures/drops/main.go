// Command drops removes every ConfigMap without a result saying so.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var _ = sdk.HandleTransform(func(_ context.Context, rl *sdk.ResourceList) error {
	kept := rl.Items[:0]
	for _, o := range rl.Items {
		if o.Kind() != "ConfigMap" {
			kept = append(kept, o)
		}
	}
	rl.Items = kept
	return nil
})

func main() {}
