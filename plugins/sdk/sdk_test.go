package sdk_test

import (
	"context"
	"errors"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

func TestObjectHelpers(t *testing.T) {
	o := sdk.NewObject(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "prod", "labels": map[string]any{"a": "1"}}})
	if o.Name() != "web" || o.Namespace() != "prod" || o.Kind() != "Deployment" || o.APIVersion() != "apps/v1" {
		t.Fatalf("accessors: %v", o)
	}
	o.SetLabel("b", "2")
	o.SetAnnotation("c", "3")
	if l := o.GetLabels(); l["a"] != "1" || l["b"] != "2" {
		t.Fatalf("labels: %v", l)
	}
	if o.GetAnnotations()["c"] != "3" {
		t.Fatalf("annotations: %v", o.GetAnnotations())
	}
	fresh := sdk.NewObject(map[string]any{})
	fresh.SetLabel("x", "y")
	if fresh.GetLabels()["x"] != "y" {
		t.Fatalf("set on empty object: %v", fresh)
	}
	if _, ok := o.Get("spec", "replicas"); ok {
		t.Fatal("missing path reported present")
	}
	if ref := o.Ref(); ref.Name != "web" || ref.Kind != "Deployment" {
		t.Fatalf("ref: %+v", ref)
	}
}

func TestServeErrors(t *testing.T) {
	cases := []struct {
		name string
		fn   sdk.TransformFunc
		in   string
		code abi.Code
	}{
		{"no handler", nil, `{}`, abi.CodeUnsupported},
		{"bad input", func(context.Context, *sdk.ResourceList) error { return nil }, `{`, abi.CodeBadInput},
		{"handler error", func(context.Context, *sdk.ResourceList) error { return errors.New("boom") }, `{}`, abi.CodeHandler},
		{"panic", func(context.Context, *sdk.ResourceList) error { panic("oops") }, `{}`, abi.CodePanic},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdk.ServeTransform(context.Background(), tc.fn, []byte(tc.in))
			var f *sdk.Failure
			if !errors.As(err, &f) || f.Code != tc.code {
				t.Fatalf("got %v, want code %v", err, tc.code)
			}
		})
	}
}

func TestResultsAndLogs(t *testing.T) {
	h := &sdktest.Host{}
	fn := func(ctx context.Context, rl *sdk.ResourceList) error {
		sdk.Logf(ctx, "items=%d", len(rl.Items))
		rl.AddError(rl.Items[0], "bad")
		rl.Result(abi.SeverityInfo, nil, sdk.FieldPath("spec", "replicas"), "fyi")
		return nil
	}
	out, err := sdktest.Transform(h, fn, sdktest.NewResourceList(nil, sdk.NewObject(map[string]any{"kind": "A", "metadata": map[string]any{"name": "a"}})))
	if err != nil {
		t.Fatal(err)
	}
	if !out.HasErrors() || out.Results[0].ResourceRef.Name != "a" || out.Results[1].Field.Path != "spec.replicas" {
		t.Fatalf("results: %+v", out.Results)
	}
	if out.APIVersion != abi.ResourceListAPIVersion || out.Kind != abi.ResourceListKind {
		t.Fatalf("identity: %s %s", out.APIVersion, out.Kind)
	}
	if logs := h.Logs(); len(logs) != 1 || logs[0].Message != "items=1" {
		t.Fatalf("logs: %+v", logs)
	}
	if _, err := sdk.HTTPCall(context.Background(), abi.HTTPRequest{}); !errors.Is(err, sdk.ErrNoHost) {
		t.Fatalf("no host: %v", err)
	}
}

func TestPack(t *testing.T) {
	p, n, c := abi.Unpack(abi.Pack(0x1000, 42))
	if p != 0x1000 || n != 42 || c != abi.CodeOK {
		t.Fatal(p, n, c)
	}
	if p, _, c := abi.Unpack(abi.PackError(abi.CodePanic)); p != 0 || c != abi.CodePanic {
		t.Fatal(p, c)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		fc   *sdk.Object
		want int
	}{
		{sdk.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "1"}}), 1},
		{sdk.NewObject(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": nil}), 0},
		{sdk.NewObject(map[string]any{"apiVersion": "fn/v1", "kind": "Cfg", "a": "1", "b": "2", "n": 3}), 2},
		{nil, 0},
	} {
		rl := &sdk.ResourceList{FunctionConfig: tc.fc}
		if got := rl.Config(); len(got) != tc.want {
			t.Errorf("%v: got %v", tc.fc, got)
		}
	}
}
