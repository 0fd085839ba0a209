package sdk_test

import (
	"context"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

func addTeam(_ context.Context, rl *sdk.ResourceList) error {
	team := rl.Config()["team"]
	for _, obj := range rl.Items {
		obj.SetLabel("team", team)
	}
	return nil
}

func ExampleHandleTransform() {
	// In a plugin: var _ = sdk.HandleTransform(addTeam)
	rl := sdktest.NewResourceList(map[string]string{"team": "payments"},
		sdk.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "app"}}))
	out, err := sdktest.Transform(nil, addTeam, rl)
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Items[0].Name(), out.Items[0].GetLabels()["team"])
	// Output: app payments
}

func ExampleHandleHealth() {
	phase := func(_ context.Context, obj *sdk.Object, _ map[string]any) (abi.HealthResult, error) {
		if obj.GetString("status", "phase") == "Ready" {
			return abi.HealthResult{Status: abi.StatusCurrent}, nil
		}
		return abi.HealthResult{Status: abi.StatusInProgress, Message: "not ready"}, nil
	}
	res, _ := sdktest.Health(nil, phase, sdk.NewObject(map[string]any{"status": map[string]any{"phase": "Ready"}}), nil)
	fmt.Println(res.Status)
	// Output: Current
}

func ExampleHandleNotify() {
	post := func(ctx context.Context, ev abi.Event, cfg map[string]any) (abi.NotifyResult, error) {
		resp, err := sdk.PostJSON(ctx, cfg["url"].(string), nil, map[string]string{"text": ev.Message})
		if err != nil {
			return abi.NotifyResult{}, err
		}
		return abi.NotifyResult{Delivered: resp.Status < 300}, nil
	}
	h := &sdktest.Host{HTTP: func(req abi.HTTPRequest) (abi.HTTPResponse, error) {
		fmt.Println(req.Method, req.URL, req.Body)
		return abi.HTTPResponse{Status: 204}, nil
	}}
	res, _ := sdktest.Notify(h, post, abi.Event{Message: "applied"}, map[string]any{"url": "https://hooks.example.com/x"})
	fmt.Println(res.Delivered)
	// Output:
	// POST https://hooks.example.com/x {"text":"applied"}
	// true
}
