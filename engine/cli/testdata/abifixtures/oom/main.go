// Command oom allocates without bound on every transform.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var sink [][]byte

var _ = sdk.HandleTransform(func(context.Context, *sdk.ResourceList) error {
	for {
		sink = append(sink, make([]byte, 1<<20))
	}
})

func main() {}
