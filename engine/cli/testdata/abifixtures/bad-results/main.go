// Command bad-results reports a finding without a severity about an object
// that does not exist.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleTransform(func(_ context.Context, rl *sdk.ResourceList) error {
	rl.Results = append(rl.Results, abi.Result{Message: "checked",
		ResourceRef: &abi.ResourceRef{APIVersion: "v1", Kind: "Secret", Namespace: "apps", Name: "ghost"}})
	return nil
})

func main() {}
