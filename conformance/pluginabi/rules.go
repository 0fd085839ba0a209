package pluginabi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// id is an object's identity as the engine tracks it for apply and prune.
type id struct{ apiVersion, kind, namespace, name string }

func (i id) String() string {
	s := i.apiVersion + "/" + i.kind + " "
	if i.namespace != "" {
		s += i.namespace + "/"
	}
	return s + i.name
}

func identity(o map[string]any) id {
	str := func(v any) string { s, _ := v.(string); return s }
	meta, _ := o["metadata"].(map[string]any)
	return id{str(o["apiVersion"]), str(o["kind"]), str(meta["namespace"]), str(meta["name"])}
}

// identityProblems applies the identity rules of docs/plugin-abi.md to a
// transform's input and output: every output item is identified; no two
// output items share an identity; every input object is in the output with
// its identity unchanged, or a result names it.
func identityProblems(in, out *abi.ResourceList) []string {
	var problems []string
	seen := map[id]int{}
	for i, it := range out.Items {
		o := identity(it)
		var missing []string
		for _, f := range []struct{ name, v string }{{"apiVersion", o.apiVersion}, {"kind", o.kind}, {"metadata.name", o.name}} {
			if f.v == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("output item %d has no %s", i, strings.Join(missing, ", ")))
			continue
		}
		seen[o]++
		if seen[o] == 2 {
			problems = append(problems, fmt.Sprintf("output has %s more than once", o))
		}
	}
	named := map[id]bool{}
	for _, r := range out.Results {
		if ref := r.ResourceRef; ref != nil {
			named[id{ref.APIVersion, ref.Kind, ref.Namespace, ref.Name}] = true
		}
	}
	inIDs := map[id]bool{}
	var dropped []string
	for _, it := range in.Items {
		o := identity(it)
		inIDs[o] = true
		if seen[o] == 0 && !named[o] {
			dropped = append(dropped, o.String())
		}
	}
	if len(dropped) > 0 {
		msg := fmt.Sprintf("%d input object(s) missing from the output with no result naming them (renamed or dropped silently): %s",
			len(dropped), list(dropped))
		var added []string
		for _, it := range out.Items {
			if o := identity(it); !inIDs[o] && o.name != "" {
				added = append(added, o.String())
			}
		}
		if len(added) > 0 {
			msg += fmt.Sprintf("; the output has new object(s): %s", list(added))
		}
		problems = append(problems, msg)
	}
	return problems
}

// resultProblems: every result has a message and a severity of error,
// warning or info, and a resourceRef names an object of the input or the
// output.
func resultProblems(in, out *abi.ResourceList) []string {
	var problems []string
	objs := append(append([]map[string]any{}, in.Items...), out.Items...)
	for i, r := range out.Results {
		if r.Message == "" {
			problems = append(problems, fmt.Sprintf("result %d has no message", i))
		}
		if !slices.Contains([]abi.Severity{abi.SeverityError, abi.SeverityWarning, abi.SeverityInfo}, r.Severity) {
			problems = append(problems, fmt.Sprintf("result %d has severity %q, want error, warning or info", i, r.Severity))
		}
		if ref := r.ResourceRef; ref != nil && !slices.ContainsFunc(objs, func(o map[string]any) bool { return refers(ref, identity(o)) }) {
			problems = append(problems, fmt.Sprintf("result %d names %s, which is neither in the input nor in the output",
				i, id{ref.APIVersion, ref.Kind, ref.Namespace, ref.Name}))
		}
	}
	return problems
}

// refers reports whether ref names o; empty apiVersion or namespace in ref
// match any.
func refers(ref *abi.ResourceRef, o id) bool {
	return ref.Kind == o.kind && ref.Name == o.name &&
		(ref.APIVersion == "" || ref.APIVersion == o.apiVersion) &&
		(ref.Namespace == "" || ref.Namespace == o.namespace)
}

func list(s []string) string {
	if len(s) > 5 {
		return strings.Join(s[:5], ", ") + fmt.Sprintf(" and %d more", len(s)-5)
	}
	return strings.Join(s, ", ")
}

// firstDiff returns the path and values where a and b, compared as JSON
// documents, first differ, or "" when they are equal.
func firstDiff(a, b any) string {
	return diffJSON(normalize(a), normalize(b), "")
}

func normalize(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return v
	}
	return out
}

func diffJSON(a, b any, path string) string {
	at := func(p string) string {
		if p == "" {
			return "the top level"
		}
		return strings.TrimPrefix(p, ".")
	}
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := sortedKeys(x)
		for _, k := range sortedKeys(y) {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if d := diffJSON(x[k], y[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok {
			break
		}
		if len(x) != len(y) {
			return fmt.Sprintf("%s: %d elements vs %d", at(path), len(x), len(y))
		}
		for i := range x {
			if d := diffJSON(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if reflect.DeepEqual(a, b) {
		return ""
	}
	return fmt.Sprintf("%s: %s vs %s", at(path), short(a), short(b))
}

func short(v any) string {
	if v == nil {
		return "absent"
	}
	raw, _ := json.Marshal(v)
	if len(raw) > 80 {
		return string(raw[:77]) + "..."
	}
	return string(raw)
}
