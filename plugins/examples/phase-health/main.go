// Command phase-health is a Weir health plugin for kinds that report
// progress in status.phase (for example a custom Database kind): it maps
// configured phases to Current, InProgress or Failed.
package main

import (
	"context"
	"slices"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleHealth(phaseHealth)

func phaseHealth(_ context.Context, obj *sdk.Object, config map[string]any) (abi.HealthResult, error) {
	gen, _ := obj.Get("metadata", "generation")
	observed, seen := obj.Get("status", "observedGeneration")
	if seen && gen != observed {
		return abi.HealthResult{Status: abi.StatusInProgress, Message: "status is for an older generation"}, nil
	}
	phase := obj.GetString("status", "phase")
	switch {
	case phase == "":
		return abi.HealthResult{Status: abi.StatusInProgress, Message: "no status.phase yet"}, nil
	case slices.Contains(list(config, "failed", "Failed", "Error"), phase):
		msg := obj.GetString("status", "message")
		if msg == "" {
			msg = "phase " + phase
		}
		return abi.HealthResult{Status: abi.StatusFailed, Message: msg}, nil
	case slices.Contains(list(config, "ready", "Ready", "Running", "Succeeded"), phase):
		return abi.HealthResult{Status: abi.StatusCurrent, Message: "phase " + phase}, nil
	}
	return abi.HealthResult{Status: abi.StatusInProgress, Message: "phase " + phase}, nil
}

// list returns config[key] as a string list, or def when it is not set.
func list(config map[string]any, key string, def ...string) []string {
	raw, ok := config[key].([]any)
	if !ok {
		return def
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func main() {}
