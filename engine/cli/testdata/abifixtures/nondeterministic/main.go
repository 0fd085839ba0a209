// Command nondeterministic labels every object with a count of its calls,
// kept between calls: the same input gives another output each time.
package main

import (
	"context"
	"strconv"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var calls int

var _ = sdk.HandleTransform(func(_ context.Context, rl *sdk.ResourceList) error {
	calls++
	for _, o := range rl.Items {
		o.SetLabel("call", strconv.Itoa(calls))
	}
	return nil
})

func main() {}
