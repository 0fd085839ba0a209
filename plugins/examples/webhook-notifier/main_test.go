package main

import (
	"encoding/json"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

var ev = abi.Event{
	InvolvedObject: abi.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"},
	Severity:       "error", Reason: "HealthCheckFailed", Message: "timeout", Timestamp: "2026-01-01T00:00:00Z",
	ReportingController: "kustomize-controller",
}

func TestNotifyDelivers(t *testing.T) {
	h := &sdktest.Host{HTTP: func(req abi.HTTPRequest) (abi.HTTPResponse, error) {
		return abi.HTTPResponse{Status: 200}, nil
	}}
	res, err := sdktest.Notify(h, notify, ev, map[string]any{"url": "http://hooks.local/x"})
	if err != nil || !res.Delivered {
		t.Fatalf("%+v %v", res, err)
	}
	reqs := h.Requests()
	if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].URL != "http://hooks.local/x" {
		t.Fatalf("requests: %+v", reqs)
	}
	var p payload
	if err := json.Unmarshal([]byte(reqs[0].Body), &p); err != nil || p.Object != "Kustomization/flux-system/apps" || p.Reason != "HealthCheckFailed" {
		t.Fatalf("payload %+v %v", p, err)
	}
}

func TestNotifyRefused(t *testing.T) {
	h := &sdktest.Host{} // no HTTP: every call is denied
	res, err := sdktest.Notify(h, notify, ev, map[string]any{"url": "http://evil.example/x"})
	if err != nil || res.Delivered || res.Message == "" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestNotifyNeedsURL(t *testing.T) {
	if _, err := sdktest.Notify(nil, notify, ev, nil); err == nil {
		t.Fatal("expected error without url")
	}
}
