// Command webhook-notifier is a Weir notify plugin: it POSTs each Flux event
// as JSON to config.url through the host's http_call, which only reaches the
// Plugin's allowedHosts.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleNotify(notify)

type payload struct {
	Text     string            `json:"text"`
	Object   string            `json:"object"`
	Severity string            `json:"severity"`
	Reason   string            `json:"reason"`
	Time     string            `json:"timestamp"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

func notify(ctx context.Context, ev abi.Event, config map[string]any) (abi.NotifyResult, error) {
	url, _ := config["url"].(string)
	if url == "" {
		return abi.NotifyResult{}, errors.New("config.url is required")
	}
	o := ev.InvolvedObject
	p := payload{
		Text:     fmt.Sprintf("[%s] %s/%s/%s: %s", ev.Severity, o.Kind, o.Namespace, o.Name, ev.Message),
		Object:   o.Kind + "/" + o.Namespace + "/" + o.Name,
		Severity: ev.Severity,
		Reason:   ev.Reason,
		Time:     ev.Timestamp,
		Metadata: ev.Metadata,
	}
	resp, err := sdk.PostJSON(ctx, url, nil, p)
	if err != nil {
		sdk.Log(ctx, abi.LevelWarn, "delivery failed: "+err.Error())
		return abi.NotifyResult{Delivered: false, Message: err.Error()}, nil
	}
	if resp.Status < 200 || resp.Status > 299 {
		return abi.NotifyResult{Delivered: false, Message: fmt.Sprintf("status %d", resp.Status)}, nil
	}
	return abi.NotifyResult{Delivered: true, Message: fmt.Sprintf("status %d", resp.Status)}, nil
}

func main() {}
