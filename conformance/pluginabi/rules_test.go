package pluginabi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

func obj(apiVersion, kind, ns, name string) map[string]any {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
}

func TestIdentityProblems(t *testing.T) {
	cm, deploy := obj("v1", "ConfigMap", "apps", "a"), obj("apps/v1", "Deployment", "apps", "web")
	drop := abi.Result{Message: "removed", Severity: abi.SeverityInfo,
		ResourceRef: &abi.ResourceRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "a"}}
	for _, tc := range []struct {
		name string
		in   []map[string]any
		out  []map[string]any
		res  []abi.Result
		want string
	}{
		{name: "unchanged", in: []map[string]any{cm, deploy}, out: []map[string]any{deploy, cm}},
		{name: "added object", in: []map[string]any{cm}, out: []map[string]any{cm, deploy}},
		{name: "dropped with a result", in: []map[string]any{cm, deploy}, out: []map[string]any{deploy}, res: []abi.Result{drop}},
		{name: "dropped silently", in: []map[string]any{cm, deploy}, out: []map[string]any{deploy},
			want: "1 input object(s) missing from the output with no result naming them (renamed or dropped silently): v1/ConfigMap apps/a"},
		{name: "namespace changed", in: []map[string]any{cm}, out: []map[string]any{obj("v1", "ConfigMap", "other", "a")},
			want: "1 input object(s) missing from the output with no result naming them (renamed or dropped silently): v1/ConfigMap apps/a; the output has new object(s): v1/ConfigMap other/a"},
		{name: "apiVersion changed", in: []map[string]any{deploy}, out: []map[string]any{obj("apps/v1beta1", "Deployment", "apps", "web")},
			want: "1 input object(s) missing from the output with no result naming them (renamed or dropped silently): apps/v1/Deployment apps/web; the output has new object(s): apps/v1beta1/Deployment apps/web"},
		{name: "duplicate", in: []map[string]any{cm}, out: []map[string]any{cm, cm},
			want: "output has v1/ConfigMap apps/a more than once"},
		{name: "unnamed item", in: nil, out: []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap"}},
			want: "output item 0 has no metadata.name"},
		{name: "bare item", in: nil, out: []map[string]any{{}},
			want: "output item 0 has no apiVersion, kind, metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(identityProblems(&abi.ResourceList{Items: tc.in}, &abi.ResourceList{Items: tc.out, Results: tc.res}), "; ")
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestResultProblems(t *testing.T) {
	in := &abi.ResourceList{Items: []map[string]any{obj("v1", "ConfigMap", "apps", "a")}}
	ref := func(apiVersion, kind, ns, name string) *abi.ResourceRef {
		return &abi.ResourceRef{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name}
	}
	for _, tc := range []struct {
		name string
		res  abi.Result
		want string
	}{
		{name: "valid", res: abi.Result{Message: "m", Severity: abi.SeverityWarning, ResourceRef: ref("v1", "ConfigMap", "apps", "a")}},
		{name: "ref without apiVersion and namespace", res: abi.Result{Message: "m", Severity: abi.SeverityError, ResourceRef: ref("", "ConfigMap", "", "a")}},
		{name: "no message", res: abi.Result{Severity: abi.SeverityInfo}, want: "result 0 has no message"},
		{name: "unknown severity", res: abi.Result{Message: "m", Severity: "fatal"}, want: `result 0 has severity "fatal", want error, warning or info`},
		{name: "ref to nothing", res: abi.Result{Message: "m", Severity: abi.SeverityInfo, ResourceRef: ref("v1", "ConfigMap", "apps", "b")},
			want: "result 0 names v1/ConfigMap apps/b, which is neither in the input nor in the output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &abi.ResourceList{Items: in.Items, Results: []abi.Result{tc.res}}
			if got := strings.Join(resultProblems(in, out), "; "); got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b any
		want string
	}{
		{name: "equal", a: map[string]any{"x": []any{1, "a"}}, b: map[string]any{"x": []any{1, "a"}}},
		{name: "value", a: map[string]any{"x": map[string]any{"y": "1"}}, b: map[string]any{"x": map[string]any{"y": "2"}}, want: `x.y: "1" vs "2"`},
		{name: "missing key", a: map[string]any{"x": 1}, b: map[string]any{"x": 1, "z": true}, want: "z: absent vs true"},
		{name: "length", a: []any{1}, b: []any{1, 2}, want: "the top level: 1 elements vs 2"},
		{name: "element", a: map[string]any{"items": []any{"a", "b"}}, b: map[string]any{"items": []any{"a", "c"}}, want: `items[1]: "b" vs "c"`},
		{name: "struct and map alike", a: abi.HealthResult{Status: abi.StatusCurrent}, b: map[string]any{"status": "Current"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := firstDiff(tc.a, tc.b); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	got := substitute(map[string]any{"url": SinkPlaceholder + "/x", "list": []any{"a " + SinkPlaceholder, 3}}, "http://h")
	want := `{"list":["a http://h",3],"url":"http://h/x"}`
	if d := firstDiff(got, normalize(mustJSON(t, want))); d != "" {
		t.Errorf("differs at %s", d)
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerdictProblem(t *testing.T) {
	for _, tc := range []struct {
		res  abi.HealthResult
		want string
	}{
		{abi.HealthResult{Status: abi.StatusCurrent}, ""},
		{abi.HealthResult{Status: abi.StatusInProgress, Message: "rolling out"}, ""},
		{abi.HealthResult{Status: abi.StatusInProgress, Message: "  "}, "status InProgress has no message"},
		{abi.HealthResult{Status: abi.StatusFailed}, "status Failed has no message"},
	} {
		if got := verdictProblem(tc.res); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.res, got, tc.want)
		}
	}
}
