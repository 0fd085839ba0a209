package main

import (
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

func TestAddLabels(t *testing.T) {
	h := &sdktest.Host{}
	rl := sdktest.NewResourceList(map[string]string{"team": "a", "env": "prod"},
		sdk.NewObject(map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "x", "labels": map[string]any{"keep": "me"}}}),
		sdk.NewObject(map[string]any{"kind": "Service", "metadata": map[string]any{"name": "y"}}))
	out, err := sdktest.Transform(h, addLabels, rl)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range out.Items {
		l := obj.GetLabels()
		if l["team"] != "a" || l["env"] != "prod" {
			t.Errorf("%s: labels %v", obj.Name(), l)
		}
	}
	if out.Items[0].GetLabels()["keep"] != "me" {
		t.Error("existing label lost")
	}
	if len(h.Logs()) != 1 {
		t.Errorf("logs: %v", h.Logs())
	}
}

func TestNoConfigWarns(t *testing.T) {
	out, err := sdktest.Transform(nil, addLabels, sdktest.NewResourceList(nil, sdk.NewObject(map[string]any{"kind": "A"})))
	if err != nil || len(out.Results) != 1 || out.HasErrors() {
		t.Fatalf("%+v %v", out, err)
	}
}
