package plugin

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// DecodeResourceList decodes and checks a transform output.
func DecodeResourceList(b []byte) (*abi.ResourceList, error) {
	var rl abi.ResourceList
	if err := json.Unmarshal(b, &rl); err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	if rl.APIVersion != abi.ResourceListAPIVersion || rl.Kind != abi.ResourceListKind {
		return nil, fmt.Errorf("output is %s %s, want %s %s", rl.APIVersion, rl.Kind,
			abi.ResourceListAPIVersion, abi.ResourceListKind)
	}
	if rl.Items == nil {
		return nil, errors.New("output has no items field")
	}
	for i, it := range rl.Items {
		if it == nil {
			return nil, fmt.Errorf("item %d is null", i)
		}
	}
	for i, r := range rl.Results {
		switch r.Severity {
		case abi.SeverityError, abi.SeverityWarning, abi.SeverityInfo, "":
		default:
			return nil, fmt.Errorf("result %d has unknown severity %q", i, r.Severity)
		}
	}
	return &rl, nil
}

// ErrorResults returns the results with severity error: any of them fails
// the reconcile.
func ErrorResults(rl *abi.ResourceList) []abi.Result {
	var out []abi.Result
	for _, r := range rl.Results {
		if r.Severity == abi.SeverityError {
			out = append(out, r)
		}
	}
	return out
}

// DecodeHealth decodes and checks a health output.
func DecodeHealth(b []byte) (abi.HealthResult, error) {
	var res abi.HealthResult
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode health result: %w", err)
	}
	switch res.Status {
	case abi.StatusCurrent, abi.StatusInProgress, abi.StatusFailed:
		return res, nil
	}
	return res, fmt.Errorf("unknown health status %q", res.Status)
}

// DecodeNotify decodes a notify output.
func DecodeNotify(b []byte) (abi.NotifyResult, error) {
	var res abi.NotifyResult
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode notify result: %w", err)
	}
	return res, nil
}
