package sdk

import (
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// decodeRequest reads the health and notify request shape: the object
// under key (kept lazy) and config (decoded; it is small).
func decodeRequest(in []byte, key string) (*Object, map[string]any, error) {
	it, err := rawjson.Object(in)
	if err != nil {
		return nil, nil, err
	}
	var obj *Object
	var config map[string]any
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		switch {
		case rawjson.KeyEqual(k, key):
			if string(v) == "null" {
				continue
			}
			if v[0] != '{' {
				return nil, nil, fmt.Errorf("%s: %w: not an object", key, rawjson.ErrSyntax)
			}
			obj = &Object{raw: v}
		case rawjson.KeyEqual(k, "config"):
			x, err := rawjson.Decode(v)
			if err != nil {
				return nil, nil, fmt.Errorf("config: %w", err)
			}
			if x != nil {
				m, ok := x.(map[string]any)
				if !ok {
					return nil, nil, fmt.Errorf("config: %w: not an object", rawjson.ErrSyntax)
				}
				config = m
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	if rawjson.WS(in, it.Offset()) != len(in) {
		return nil, nil, fmt.Errorf("%w: trailing data", rawjson.ErrSyntax)
	}
	return obj, config, nil
}

// decodeEvent reads a Flux event without reflection.
func decodeEvent(o *Object) (abi.Event, error) {
	var ev abi.Event
	if o == nil {
		return ev, fmt.Errorf("no event")
	}
	it, err := rawjson.Object(o.raw)
	if err != nil {
		return ev, err
	}
	str := func(v []byte, dst *string) {
		if s, ok := rawjson.String(v); ok {
			*dst = string([]byte(s)) // the event outlives the input buffer
		}
	}
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		switch key, _ := rawjson.Key(k); key {
		case "severity":
			str(v, &ev.Severity)
		case "timestamp":
			str(v, &ev.Timestamp)
		case "message":
			str(v, &ev.Message)
		case "reason":
			str(v, &ev.Reason)
		case "reportingController":
			str(v, &ev.ReportingController)
		case "reportingInstance":
			str(v, &ev.ReportingInstance)
		case "metadata":
			ev.Metadata = ownedStringMap(v)
		case "involvedObject":
			ref := &ev.InvolvedObject
			ri, err := rawjson.Object(v)
			if err != nil {
				return ev, fmt.Errorf("involvedObject: %w", err)
			}
			for rk, rv, ok := ri.Next(); ok; rk, rv, ok = ri.Next() {
				switch key, _ := rawjson.Key(rk); key {
				case "apiVersion":
					str(rv, &ref.APIVersion)
				case "kind":
					str(rv, &ref.Kind)
				case "namespace":
					str(rv, &ref.Namespace)
				case "name":
					str(rv, &ref.Name)
				case "uid":
					str(rv, &ref.UID)
				case "resourceVersion":
					str(rv, &ref.ResourceVersion)
				}
			}
			if err := ri.Err(); err != nil {
				return ev, fmt.Errorf("involvedObject: %w", err)
			}
		}
	}
	return ev, it.Err()
}

// appendHTTPRequest encodes an http_call request.
func appendHTTPRequest(dst []byte, req abi.HTTPRequest) []byte {
	dst = rawjson.AppendString(append(dst, `{"method":`...), req.Method)
	dst = rawjson.AppendString(append(dst, `,"url":`...), req.URL)
	if len(req.Headers) > 0 {
		dst, _ = rawjson.Append(append(dst, `,"headers":`...), req.Headers)
	}
	if req.Body != "" {
		dst = rawjson.AppendString(append(dst, `,"body":`...), req.Body)
	}
	return append(dst, '}')
}

// decodeHTTPResponse decodes an http_call response.
func decodeHTTPResponse(b []byte) (abi.HTTPResponse, error) {
	var resp abi.HTTPResponse
	it, err := rawjson.Object(b)
	if err != nil {
		return resp, fmt.Errorf("decode http response: %w", err)
	}
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		switch key, _ := rawjson.Key(k); key {
		case "status":
			x, err := rawjson.Decode(v)
			if f, isNum := x.(float64); err == nil && isNum {
				resp.Status = int(f)
			}
		case "body":
			if s, ok := rawjson.String(v); ok {
				resp.Body = string([]byte(s))
			}
		case "headers":
			resp.Headers = ownedStringMap(v)
		}
	}
	if err := it.Err(); err != nil {
		return resp, fmt.Errorf("decode http response: %w", err)
	}
	return resp, nil
}

// ownedStringMap returns the string members of the object v, copied: the
// map outlives the buffer v points into.
func ownedStringMap(v []byte) map[string]string {
	out := map[string]string{}
	for k, s := range (&Object{raw: v}).stringMap() {
		out[strings.Clone(k)] = strings.Clone(s)
	}
	return out
}
