// Command bad-health answers every health check with a status the ABI does
// not define.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleHealth(func(context.Context, *sdk.Object, map[string]any) (abi.HealthResult, error) {
	return abi.HealthResult{Status: "Healthy", Message: "looks fine"}, nil
})

func main() {}
