package sdk

import (
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Object is one Kubernetes object as decoded from JSON.
type Object map[string]any

// APIVersion returns .apiVersion.
func (o Object) APIVersion() string { return o.GetString("apiVersion") }

// Kind returns .kind.
func (o Object) Kind() string { return o.GetString("kind") }

// Name returns .metadata.name.
func (o Object) Name() string { return o.GetString("metadata", "name") }

// Namespace returns .metadata.namespace.
func (o Object) Namespace() string { return o.GetString("metadata", "namespace") }

// Get returns the value at path and whether it exists.
func (o Object) Get(path ...string) (any, bool) {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// GetString returns the string at path, or "" when absent or not a string.
func (o Object) GetString(path ...string) string {
	v, _ := o.Get(path...)
	s, _ := v.(string)
	return s
}

// GetMap returns the map at path, or nil.
func (o Object) GetMap(path ...string) map[string]any {
	v, _ := o.Get(path...)
	m, _ := v.(map[string]any)
	return m
}

// Set sets the value at path, creating intermediate maps (and replacing
// non-map values on the way).
func (o Object) Set(value any, path ...string) {
	if len(path) == 0 {
		return
	}
	m := map[string]any(o)
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

func (o Object) stringMap(path ...string) map[string]string {
	src := o.GetMap(path...)
	out := make(map[string]string, len(src))
	for k, v := range src {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// GetLabels returns a copy of .metadata.labels.
func (o Object) GetLabels() map[string]string { return o.stringMap("metadata", "labels") }

// SetLabel sets one label.
func (o Object) SetLabel(key, value string) { o.Set(value, "metadata", "labels", key) }

// GetAnnotations returns a copy of .metadata.annotations.
func (o Object) GetAnnotations() map[string]string {
	return o.stringMap("metadata", "annotations")
}

// SetAnnotation sets one annotation.
func (o Object) SetAnnotation(key, value string) {
	o.Set(value, "metadata", "annotations", key)
}

// Ref returns the ResourceRef that identifies o in a Result.
func (o Object) Ref() *abi.ResourceRef {
	return &abi.ResourceRef{APIVersion: o.APIVersion(), Kind: o.Kind(), Name: o.Name(), Namespace: o.Namespace()}
}

// ResourceList is the transform input and output, with typed items. It has
// the JSON shape of abi.ResourceList.
type ResourceList struct {
	APIVersion     string       `json:"apiVersion"`
	Kind           string       `json:"kind"`
	Items          []Object     `json:"items"`
	FunctionConfig Object       `json:"functionConfig,omitempty"`
	Results        []abi.Result `json:"results,omitempty"`
}

// Config returns the string map functionConfig.data (the ConfigMap
// convention), or, when functionConfig has no data, its top-level string
// fields other than apiVersion and kind.
func (rl *ResourceList) Config() map[string]string {
	if _, ok := rl.FunctionConfig["data"]; ok {
		return rl.FunctionConfig.stringMap("data")
	}
	out := rl.FunctionConfig.stringMap()
	delete(out, "apiVersion")
	delete(out, "kind")
	return out
}

// Result appends a result about obj (which may be nil) and field path (which
// may be empty).
func (rl *ResourceList) Result(sev abi.Severity, obj Object, fieldPath, msg string) {
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
func (rl *ResourceList) AddError(obj Object, msg string) { rl.Result(abi.SeverityError, obj, "", msg) }

// AddWarning appends a warning result.
func (rl *ResourceList) AddWarning(obj Object, msg string) {
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

// FieldPath joins path elements in the dotted form used by Result.Field.
func FieldPath(path ...string) string { return strings.Join(path, ".") }
