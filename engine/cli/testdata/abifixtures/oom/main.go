// Command oom allocates without bound on every transform, 8 MiB at a time
// so that it reaches any limit in a few steps.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var sink [][]byte

var _ = sdk.HandleTransform(func(context.Context, *sdk.ResourceList) error {
	for {
		sink = append(sink, make([]byte, 8<<20))
	}
})

func main() {}
