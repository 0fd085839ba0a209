package main

import (
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

func deployment(name string, images ...string) *sdk.Object {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": string(rune('a' + i)), "image": img})
	}
	return sdk.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": cs}}}})
}

func TestMutable(t *testing.T) {
	for image, want := range map[string]bool{
		"nginx":                         true,
		"nginx:latest":                  true,
		"registry:5000/team/app":        true,
		"registry:5000/team/app:latest": true,
		"registry:5000/team/app:1.2.3":  false,
		"nginx@sha256:abc":              false,
		"nginx:latest@sha256:abc":       false,
		"ghcr.io/org/app:v1.0.0-latest": false,
	} {
		if got := mutable(image); got != want {
			t.Errorf("mutable(%q) = %v, want %v", image, got, want)
		}
	}
}

func TestDenyLatest(t *testing.T) {
	rl := sdktest.NewResourceList(nil,
		deployment("pinned", "nginx:1.27"),
		deployment("floating", "nginx:1.27", "busybox"),
		sdk.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm"}}))
	out, err := sdktest.Transform(nil, denyLatest, rl)
	if err != nil {
		t.Fatal(err)
	}
	if !out.HasErrors() || len(out.Results) != 1 {
		t.Fatalf("want one error result, got %+v", out.Results)
	}
	r := out.Results[0]
	if r.ResourceRef == nil || r.ResourceRef.Name != "floating" {
		t.Errorf("result names %+v, want the floating Deployment", r.ResourceRef)
	}
	if len(out.Items) != 3 {
		t.Errorf("items changed: %d", len(out.Items))
	}
}

func TestAllPinnedPasses(t *testing.T) {
	out, err := sdktest.Transform(nil, denyLatest, sdktest.NewResourceList(nil, deployment("a", "nginx:1.27")))
	if err != nil || out.HasErrors() {
		t.Fatalf("%+v %v", out.Results, err)
	}
}
