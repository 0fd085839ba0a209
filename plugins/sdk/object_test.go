package sdk

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The reference model for edits: a map decoded by encoding/json, changed
// in place. Object must always agree with it.

func modelSet(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = deepCopy(v)
}

func modelDelete(m map[string]any, path []string) {
	var cur any = m
	for _, p := range path[:len(path)-1] {
		mm, ok := cur.(map[string]any)
		if !ok {
			return
		}
		if cur, ok = mm[p]; !ok {
			return
		}
	}
	if mm, ok := cur.(map[string]any); ok {
		delete(mm, path[len(path)-1])
	}
}

var (
	keys   = []string{"metadata", "labels", "a", "b\"q", "spec"}
	values = []any{"v", 2.5, nil, true, map[string]any{"x": "1", "a": map[string]any{"b\"q": "deep"}}, []any{"l", 1.0}}
)

// ops decodes a byte string into edits: each pair of bytes is one edit.
func applyOps(o *Object, model map[string]any, ops []byte) {
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		depth := int(op%3) + 1
		path := make([]string, depth)
		for d := range path {
			path[d] = keys[(int(arg)>>(2*d)+d)%len(keys)]
		}
		if op&0x80 != 0 {
			o.Delete(path...)
			modelDelete(model, path)
			continue
		}
		v := values[int(op>>2)%len(values)]
		o.Set(v, path...)
		modelSet(model, path, v)
	}
}

func checkAgainstModel(t *testing.T, o *Object, model map[string]any) {
	t.Helper()
	out, err := o.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output is not a JSON object: %s: %v", out, err)
	}
	if !reflect.DeepEqual(got, model) {
		t.Fatalf("encoded %s\nmodel   %v", out, model)
	}
	for _, path := range [][]string{{}, {"metadata"}, {"metadata", "labels"}, {"a"}, {"a", "b\"q"}, {"labels", "a", "metadata"}} {
		want, wok := navigate(any(model), path)
		v, ok := o.Get(path...)
		if ok != wok || !reflect.DeepEqual(v, want) {
			t.Fatalf("Get(%q) = %v, %v; model %v, %v", path, v, ok, want, wok)
		}
	}
}

func TestObjectEditsMatchModel(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		ops       []byte
	}{
		{"label on an object without labels", `{"kind":"ConfigMap","metadata":{"name":"x"}}`, []byte{2, 0x05}},
		{"label on an object with labels", `{"metadata":{"labels":{"a":"old"}}}`, []byte{2, 0x09, 2, 0x0a}},
		{"set then set below", `{"a":"scalar"}`, []byte{0x10, 0x02, 1, 0x0e}},
		{"delete then recreate", `{"metadata":{"labels":{"a":"1"}}}`, []byte{0x80, 0x00, 2, 0x05}},
		{"delete missing", `{"x":1}`, []byte{0x82, 0x3f}},
		{"delete below scalar", `{"a":"s"}`, []byte{0x81, 0x02}},
		{"escaped keys", `{"b\"q":{"a":1},"b\u0022q":{"z":2}}`, []byte{1, 0x03, 0x80, 0x03}},
		{"empty object", `{}`, []byte{0, 0, 1, 1, 2, 2, 0x80, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseObject([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var model map[string]any
			if err := json.Unmarshal([]byte(tc.doc), &model); err != nil {
				t.Fatal(err)
			}
			applyOps(o, model, tc.ops)
			checkAgainstModel(t, o, model)
		})
	}
}

func TestUneditedObjectPassesThroughAsBytes(t *testing.T) {
	doc := `{"z":1,  "a" : {"n":1.50}}`
	o, err := ParseObject([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	_ = o.Name()
	_ = o.GetLabels()
	out, _ := o.AppendJSON(nil)
	if string(out) != doc {
		t.Fatalf("got %s, want the input bytes %s", out, doc)
	}
	o.SetLabel("k", "v")
	out, _ = o.AppendJSON(nil)
	if want := `{"z":1,"a":{"n":1.50},"metadata":{"labels":{"k":"v"}}}`; string(out) != want {
		t.Fatalf("got %s, want %s (untouched members byte for byte)", out, want)
	}
}

// FuzzObjectEdits checks Object against the map model for any object and
// any sequence of edits.
func FuzzObjectEdits(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"x","labels":{"a":"1"}},"spec":{"b\"q":[1]}}`), []byte{2, 5, 0x81, 3, 1, 9})
	f.Add([]byte(`{}`), []byte{0, 0, 0x80, 0})
	f.Fuzz(func(t *testing.T, doc, ops []byte) {
		o, err := ParseObject(doc)
		var model map[string]any
		jerr := json.Unmarshal(doc, &model)
		var rangeErr *json.UnmarshalTypeError
		if errors.As(jerr, &rangeErr) {
			return // valid JSON whose number a float64 cannot hold: no model
		}
		if (err == nil) != (jerr == nil && model != nil) {
			t.Fatalf("ParseObject error %v, encoding/json %v", err, jerr)
		}
		if err != nil {
			return
		}
		applyOps(o, model, ops)
		checkAgainstModel(t, o, model)
	})
}
