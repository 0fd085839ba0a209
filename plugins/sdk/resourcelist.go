package sdk

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// ResourceList is the transform input and output, with lazy items. It has
// the JSON shape of abi.ResourceList.
type ResourceList struct {
	APIVersion     string
	Kind           string
	Items          []*Object
	FunctionConfig *Object
	Results        []abi.Result
}

// Config returns the string map functionConfig.data (the ConfigMap
// convention), or, when functionConfig has no data, its top-level string
// fields other than apiVersion and kind.
func (rl *ResourceList) Config() map[string]string {
	if rl.FunctionConfig.Has("data") {
		return rl.FunctionConfig.stringMap("data")
	}
	out := rl.FunctionConfig.stringMap()
	delete(out, "apiVersion")
	delete(out, "kind")
	return out
}

// Result appends a result about obj (which may be nil) and field path (which
// may be empty).
func (rl *ResourceList) Result(sev abi.Severity, obj *Object, fieldPath, msg string) {
	r := abi.Result{Message: msg, Severity: sev}
	if obj != nil {
		r.ResourceRef = obj.Ref()
	}
	if fieldPath != "" {
		r.Field = &abi.Field{Path: fieldPath}
	}
	rl.Results = append(rl.Results, r)
}

// AddError appends an error result; any error result fails the reconcile.
func (rl *ResourceList) AddError(obj *Object, msg string) {
	rl.Result(abi.SeverityError, obj, "", msg)
}

// AddWarning appends a warning result.
func (rl *ResourceList) AddWarning(obj *Object, msg string) {
	rl.Result(abi.SeverityWarning, obj, "", msg)
}

// HasErrors reports whether any result has severity error.
func (rl *ResourceList) HasErrors() bool {
	for _, r := range rl.Results {
		if r.Severity == abi.SeverityError {
			return true
		}
	}
	return false
}

// DecodeResourceList reads a ResourceList. Items and functionConfig keep
// pointing into b, which must not change afterwards.
func DecodeResourceList(b []byte) (*ResourceList, error) {
	rl := &ResourceList{}
	it, err := rawjson.Object(b)
	if err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	var offsets []int
	for k, ok := it.NextKey(); ok; k, ok = it.NextKey() {
		if rawjson.KeyEqual(k, "items") {
			if rl.Items, err = decodeItems(&it, offsets); err != nil {
				return nil, err
			}
			continue
		}
		if rawjson.KeyEqual(k, abi.ItemOffsetsField) {
			v, ok := it.Value()
			if !ok {
				break
			}
			offsets = parseOffsets(v)
			continue
		}
		v, ok := it.Value()
		if !ok {
			break
		}
		switch {
		case rawjson.KeyEqual(k, "apiVersion"):
			rl.APIVersion, _ = rawjson.String(v)
		case rawjson.KeyEqual(k, "kind"):
			rl.Kind, _ = rawjson.String(v)
		case rawjson.KeyEqual(k, "functionConfig"):
			if string(v) != "null" {
				if v[0] != '{' {
					return nil, fmt.Errorf("decode resource list: functionConfig: %w: not an object", rawjson.ErrSyntax)
				}
				rl.FunctionConfig = &Object{raw: v}
			}
		case rawjson.KeyEqual(k, "results"):
			if string(v) != "null" && string(v) != "[]" {
				if err := json.Unmarshal(v, &rl.Results); err != nil {
					return nil, fmt.Errorf("decode resource list: results: %w", err)
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("decode resource list: %w", err)
	}
	if rawjson.WS(b, it.Offset()) != len(b) {
		return nil, fmt.Errorf("decode resource list: %w: trailing data", rawjson.ErrSyntax)
	}
	return rl, nil
}

// decodeItems splits the items array into lazy Objects, allocating the
// Objects in one block. With offsets from the host that fit the array it
// jumps over the items; otherwise it scans them.
func decodeItems(it *rawjson.Iter, offsets []int) ([]*Object, error) {
	spans, ok := it.ElementsAt(offsets)
	if !ok {
		var err error
		if spans, err = it.Elements(); err != nil {
			return nil, fmt.Errorf("decode resource list: items: %w", err)
		}
	}
	block := make([]Object, len(spans))
	items := make([]*Object, len(spans))
	for i, s := range spans {
		if s[0] != '{' {
			return nil, fmt.Errorf("decode resource list: item %d: %w: not an object", i, rawjson.ErrSyntax)
		}
		block[i].raw = s
		items[i] = &block[i]
	}
	return items, nil
}

// parseOffsets reads the host's item offsets: an array of non-negative
// integers. Anything else gives nil, and the items are scanned.
func parseOffsets(v []byte) []int {
	if len(v) < 2 || v[0] != '[' {
		return nil
	}
	out := make([]int, 0, 2*(len(v)/8+1))
	n, digits := 0, 0
	for _, c := range v[1:] {
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits > 12 {
				return nil
			}
			n = n*10 + int(c-'0')
		case (c == ',' || c == ']') && digits > 0:
			out = append(out, n)
			n, digits = 0, 0
		case c == ']' && len(out) == 0:
		default:
			return nil
		}
	}
	return out
}

// AppendJSON appends rl as JSON.
func (rl *ResourceList) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"apiVersion":`...)
	dst = rawjson.AppendString(dst, rl.APIVersion)
	dst = append(dst, `,"kind":`...)
	dst = rawjson.AppendString(dst, rl.Kind)
	dst = append(dst, `,"items":[`...)
	var err error
	for i, o := range rl.Items {
		if i > 0 {
			dst = append(dst, ',')
		}
		if o == nil {
			return dst, fmt.Errorf("encode resource list: item %d is nil", i)
		}
		if dst, err = o.AppendJSON(dst); err != nil {
			return dst, fmt.Errorf("encode resource list: item %d: %w", i, err)
		}
	}
	dst = append(dst, ']')
	if rl.FunctionConfig != nil {
		dst = append(dst, `,"functionConfig":`...)
		if dst, err = rl.FunctionConfig.AppendJSON(dst); err != nil {
			return dst, fmt.Errorf("encode resource list: functionConfig: %w", err)
		}
	}
	if len(rl.Results) > 0 {
		dst = append(dst, `,"results":[`...)
		for i, r := range rl.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendResult(dst, r)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), nil
}

func appendResult(dst []byte, r abi.Result) []byte {
	dst = append(dst, `{"message":`...)
	dst = rawjson.AppendString(dst, r.Message)
	if r.Severity != "" {
		dst = append(dst, `,"severity":`...)
		dst = rawjson.AppendString(dst, string(r.Severity))
	}
	if ref := r.ResourceRef; ref != nil {
		dst = append(dst, `,"resourceRef":{`...)
		n := 0
		for _, f := range [...]struct{ k, v string }{{"apiVersion", ref.APIVersion}, {"kind", ref.Kind}, {"name", ref.Name}, {"namespace", ref.Namespace}} {
			if f.v == "" {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(rawjson.AppendString(dst, f.k), ':')
			dst = rawjson.AppendString(dst, f.v)
			n++
		}
		dst = append(dst, '}')
	}
	if f := r.Field; f != nil {
		dst = append(dst, `,"field":{"path":`...)
		dst = rawjson.AppendString(dst, f.Path)
		for _, kv := range [...]struct {
			k string
			v any
		}{{"currentValue", f.CurrentValue}, {"proposedValue", f.ProposedValue}} {
			if kv.v == nil {
				continue
			}
			dst = append(rawjson.AppendString(append(dst, ','), kv.k), ':')
			var err error
			if dst, err = rawjson.Append(dst, kv.v); err != nil {
				dst = append(dst, "null"...)
			}
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// MarshalJSON encodes rl.
func (rl *ResourceList) MarshalJSON() ([]byte, error) { return rl.AppendJSON(nil) }

// UnmarshalJSON decodes a copy of b.
func (rl *ResourceList) UnmarshalJSON(b []byte) error {
	out, err := DecodeResourceList(append([]byte(nil), b...))
	if err != nil {
		return err
	}
	*rl = *out
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
