// Command passthrough is a transform that returns its input unchanged: the
// well-behaved guest the metadata fixtures wrap.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var _ = sdk.HandleTransform(func(context.Context, *sdk.ResourceList) error { return nil })

func main() {}
