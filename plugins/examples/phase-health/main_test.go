package main

import (
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

func db(phase string, gen, observed int) *sdk.Object {
	status := map[string]any{"observedGeneration": observed}
	if phase != "" {
		status["phase"] = phase
	}
	return sdk.NewObject(map[string]any{"apiVersion": "db.example.com/v1", "kind": "Database",
		"metadata": map[string]any{"name": "d", "generation": gen}, "status": status})
}

func TestPhaseHealth(t *testing.T) {
	cases := []struct {
		name   string
		obj    *sdk.Object
		config map[string]any
		want   abi.HealthStatus
	}{
		{"ready", db("Ready", 1, 1), nil, abi.StatusCurrent},
		{"provisioning", db("Provisioning", 1, 1), nil, abi.StatusInProgress},
		{"failed", db("Failed", 1, 1), nil, abi.StatusFailed},
		{"no phase", db("", 1, 1), nil, abi.StatusInProgress},
		{"stale", db("Ready", 2, 1), nil, abi.StatusInProgress},
		{"custom ready", db("Online", 1, 1), map[string]any{"ready": []any{"Online"}}, abi.StatusCurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sdktest.Health(nil, phaseHealth, tc.obj, tc.config)
			if err != nil || res.Status != tc.want {
				t.Fatalf("got %+v %v, want %s", res, err, tc.want)
			}
		})
	}
}
