package plugin

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// DecodeResourceList decodes and checks a transform output into maps.
func DecodeResourceList(b []byte) (*abi.ResourceList, error) {
	out, err := DecodeTransformOutput(b)
	if err != nil {
		return nil, err
	}
	return out.ResourceList()
}

// ResourceList decodes the items into maps.
func (out *TransformOutput) ResourceList() (*abi.ResourceList, error) {
	rl := &abi.ResourceList{APIVersion: abi.ResourceListAPIVersion, Kind: abi.ResourceListKind,
		Items: make([]map[string]any, len(out.Items)), Results: out.Results}
	for i, it := range out.Items {
		if err := json.Unmarshal(it, &rl.Items[i]); err != nil {
			return nil, fmt.Errorf("decode item %d: %w", i, err)
		}
	}
	return rl, nil
}

// DecodeTransformOutput checks a transform output and splits its items
// without decoding them. The items are slices of b.
func DecodeTransformOutput(b []byte) (*TransformOutput, error) {
	it, err := rawjson.Object(b)
	if err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	var apiVersion, kind string
	var items [][]byte
	var results []byte
	for k, ok := it.NextKey(); ok; k, ok = it.NextKey() {
		if rawjson.KeyEqual(k, "items") {
			if items, err = splitItems(&it); err != nil {
				return nil, err
			}
			continue
		}
		v, ok := it.Value()
		if !ok {
			break
		}
		switch {
		case rawjson.KeyEqual(k, "apiVersion"):
			apiVersion, _ = rawjson.String(v)
		case rawjson.KeyEqual(k, "kind"):
			kind, _ = rawjson.String(v)
		case rawjson.KeyEqual(k, "results"):
			results = v
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	if rawjson.WS(b, it.Offset()) != len(b) {
		return nil, errors.New("decode resource list: trailing data after the object")
	}
	if apiVersion != abi.ResourceListAPIVersion || kind != abi.ResourceListKind {
		return nil, fmt.Errorf("output is %s %s, want %s %s", apiVersion, kind,
			abi.ResourceListAPIVersion, abi.ResourceListKind)
	}
	if items == nil {
		return nil, errors.New("output has no items field")
	}
	out := &TransformOutput{Items: items}
	if results != nil && string(results) != "null" {
		if err := json.Unmarshal(results, &out.Results); err != nil {
			return nil, fmt.Errorf("decode results: %w", err)
		}
	}
	for i, r := range out.Results {
		switch r.Severity {
		case abi.SeverityError, abi.SeverityWarning, abi.SeverityInfo, "":
		default:
			return nil, fmt.Errorf("result %d has unknown severity %q", i, r.Severity)
		}
	}
	return out, nil
}

// splitItems returns the elements of the items array, each an object, in
// one pass over it.
func splitItems(it *rawjson.Iter) ([][]byte, error) {
	items, err := it.Elements()
	if err != nil {
		return nil, fmt.Errorf("decode items: %w", err)
	}
	for i, item := range items {
		if item[0] != '{' {
			return nil, fmt.Errorf("item %d is %s, not an object", i, kindOf(item))
		}
	}
	return items, nil
}

func kindOf(v []byte) string {
	switch v[0] {
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// ErrorResults returns the results with severity error: any of them fails
// the reconcile.
func ErrorResults(results []abi.Result) []abi.Result {
	var out []abi.Result
	for _, r := range results {
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
