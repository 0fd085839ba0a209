// Command add-labels is a Weir transform plugin: it sets every key of its
// config (functionConfig.data) as a label on every item.
package main

import (
	"context"
	"sort"

	"github.com/weir-gitops/weir/plugins/sdk"
)

var _ = sdk.HandleTransform(addLabels)

func addLabels(ctx context.Context, rl *sdk.ResourceList) error {
	labels := rl.Config()
	if len(labels) == 0 {
		rl.AddWarning(nil, "no labels configured")
		return nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, obj := range rl.Items {
		for _, k := range keys {
			obj.SetLabel(k, labels[k])
		}
	}
	sdk.Logf(ctx, "labelled %d objects with %d labels", len(rl.Items), len(keys))
	return nil
}

func main() {}
