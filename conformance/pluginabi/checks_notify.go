package pluginabi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var notifyChecks = []check{
	{"notify/contract", notifyContract},
	{"notify/deterministic", notifyDeterministic},
	{"notify/failure", notifyFailure},
	{"notify/allowed-hosts", notifyAllowedHosts},
	{"notify/empty", notifyEmpty},
	{"notify/large", notifyLarge},
}

// notifyContract: with the sink allowed and answering 200, the event is
// delivered to it and the plugin says so.
func notifyContract(ctx context.Context, e *env) error {
	e.sink.reset(http.StatusOK)
	res, err := e.loaded.Notify(ctx, sampleEvent())
	if err != nil {
		return describe("notify", err, e.base.Limits)
	}
	got := e.sink.received()
	switch {
	case !res.Delivered:
		return fmt.Errorf("delivered: false (%q) although the sink at %s is allowed and answers 200; does the config point the plugin at %s?",
			res.Message, e.sink.url, SinkPlaceholder)
	case len(got) == 0:
		return fmt.Errorf("delivered: true but no request reached the sink at %s", e.sink.url)
	}
	return nil
}

// notifyDeterministic: the same event gives the same result and the same
// requests twice on the same instance and once more on a fresh one.
func notifyDeterministic(ctx context.Context, e *env) error {
	l, err := e.module.Load(ctx, e.base)
	if err != nil {
		return err
	}
	defer func() { _ = l.Close(context.WithoutCancel(ctx)) }()
	type round struct {
		Result   abi.NotifyResult
		Requests []request
	}
	var got [3]round
	for i, inst := range []Loaded{e.loaded, e.loaded, l} {
		e.sink.reset(http.StatusOK)
		res, err := inst.Notify(ctx, sampleEvent())
		if err != nil {
			return describe("notify", err, e.base.Limits)
		}
		got[i] = round{res, e.sink.received()}
	}
	if d := firstDiff(got[0], got[1]); d != "" {
		return fmt.Errorf("the second delivery of the same event on the same instance differs at %s", d)
	}
	if d := firstDiff(got[0], got[2]); d != "" {
		return fmt.Errorf("a fresh instance delivered the same event differently at %s", d)
	}
	return nil
}

// undelivered checks the answer to a delivery that cannot succeed: never
// delivered: true; delivered: false or an error code, with a message.
func undelivered(op string, res abi.NotifyResult, err error, lim Limits) error {
	switch {
	case properError(err):
		return nil
	case err != nil:
		return describe(op, err, lim)
	case res.Delivered:
		return fmt.Errorf("%s: reported delivered: true", op)
	case strings.TrimSpace(res.Message) == "":
		return fmt.Errorf("%s: delivered: false without a message saying why", op)
	}
	return nil
}

// notifyFailure: when the sink answers 500 the plugin does not claim
// delivery.
func notifyFailure(ctx context.Context, e *env) error {
	e.sink.reset(http.StatusInternalServerError)
	defer e.sink.reset(http.StatusOK)
	res, err := e.loaded.Notify(ctx, sampleEvent())
	return undelivered("notify with the sink answering 500", res, err, e.base.Limits)
}

// notifyAllowedHosts: with the sink not in allowedHosts the host refuses
// the request; the plugin reports the failure and nothing reaches the sink.
func notifyAllowedHosts(ctx context.Context, e *env) error {
	cfg := e.base
	cfg.AllowedHosts = []string{"notify.invalid"}
	l, err := e.module.Load(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = l.Close(context.WithoutCancel(ctx)) }()
	e.sink.reset(http.StatusOK)
	res, err := l.Notify(ctx, sampleEvent())
	if n := len(e.sink.received()); n > 0 {
		return fmt.Errorf("%d request(s) reached the sink although allowedHosts does not name it", n)
	}
	return undelivered("notify with the sink outside allowedHosts", res, err, e.base.Limits)
}

// notifyEmpty: an event with only the fields every event has.
func notifyEmpty(ctx context.Context, e *env) error {
	e.sink.reset(http.StatusOK)
	_, err := e.loaded.Notify(ctx, minimalEvent())
	if err != nil && !properError(err) {
		return describe("notify of an event with no message or metadata", err, e.base.Limits)
	}
	return nil
}

// notifyLarge: an event with Options.LargeItems metadata entries and a
// 64 KiB message, within the limits.
func notifyLarge(ctx context.Context, e *env) error {
	e.sink.reset(http.StatusOK)
	_, err := e.loaded.Notify(ctx, largeEvent(e.opts.LargeItems))
	if err != nil && !properError(err) {
		return describe(fmt.Sprintf("notify of an event with %d metadata entries", e.opts.LargeItems), err, e.base.Limits)
	}
	return nil
}
