// Command notify-lies reports every event as delivered without sending it.
package main

import (
	"context"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleNotify(func(context.Context, abi.Event, map[string]any) (abi.NotifyResult, error) {
	return abi.NotifyResult{Delivered: true, Message: "sent"}, nil
})

func main() {}
