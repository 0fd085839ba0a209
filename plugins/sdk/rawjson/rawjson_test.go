package rawjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestSkip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		rest string
	}{
		{`{}`, true, ""},
		{` {"a":[1,2,{"b":null}],"c":"x\"y"} tail`, true, " tail"},
		{`[true,false,null,-0.5e+3]`, true, ""},
		{`"\u00e9\ud83d\ude00"`, true, ""},
		{`{"a":1,}`, false, ""},
		{`[1,]`, false, ""},
		{`{"a" 1}`, false, ""},
		{`[1 2]`, false, ""},
		{`{"a":1]`, false, ""},
		{`"abc`, false, ""},
		{`"a\x"`, false, ""},
		{"\"a\x01\"", false, ""},
		{`01`, true, "1"}, // one value, 0, then a trailing byte
		{`-`, false, ""},
		{`1.`, false, ""},
		{`tru`, false, ""},
		{``, false, ""},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false, ""},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true, ""},
	} {
		end, err := Skip([]byte(tc.in), 0)
		if (err == nil) != tc.ok {
			t.Errorf("Skip(%.40q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("Skip(%.40q) error %v does not wrap ErrSyntax", tc.in, err)
		}
		if tc.ok && tc.in[end:] != tc.rest {
			t.Errorf("Skip(%.40q) left %q, want %q", tc.in, tc.in[end:], tc.rest)
		}
	}
}

func TestLookupAndString(t *testing.T) {
	doc := []byte(`{"metadata":{"name":"web","labels":{"a\/b":"1","x":"caf\u00e9"}},"kind":"Pod","kind":"Last","n":[1]}`)
	for _, tc := range []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"metadata", "name"}, "web", true},
		{[]string{"metadata", "labels", "a/b"}, "1", true},
		{[]string{"metadata", "labels", "x"}, "café", true},
		{[]string{"kind"}, "Last", true},
		{[]string{"metadata", "missing"}, "", false},
		{[]string{"n", "0"}, "", false},
	} {
		v, ok := Lookup(doc, tc.path...)
		if ok != tc.ok {
			t.Errorf("Lookup(%v) ok = %v", tc.path, ok)
			continue
		}
		if !ok {
			continue
		}
		if s, _ := String(v); s != tc.want {
			t.Errorf("Lookup(%v) = %q, want %q", tc.path, s, tc.want)
		}
	}
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, "plain", "quote\" back\\ nl\n tab\t ctl\x01 <html>&", "\u2028\u2029", "bad\xffutf8",
		0.0, -1.5, 1e21, 1e-7, 123456789.0, 3.0e-5, int64(-7), uint8(9), float32(0.1),
		map[string]any{"b": 1.0, "a": []any{"x", nil, map[string]any{}}},
		map[string]string{"z": "1", "a": "2"}, []string{"p", "q"}, []any{},
		struct{ A int }{3},
	} {
		got, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%#v): %v", v, err)
		}
		want, _ := json.Marshal(v)
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("Append(%#v) = %s: not JSON: %v", v, got, err)
		}
		_ = json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("Append(%#v) = %s, encoding/json %s", v, got, want)
		}
		if _, isStr := v.(string); !isStr && !bytes.Equal(got, want) && !strings.ContainsAny(string(want), "\\") {
			t.Errorf("Append(%#v) = %s, encoding/json writes %s", v, got, want)
		}
	}
}

// FuzzRawJSON checks the scanner against encoding/json: the same inputs
// are valid, and Decode gives what json.Unmarshal gives.
func FuzzRawJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c\u00e9"}]}`, `[1,2`, `"x\"`, `-0.1e5`, `{"a":1,"a":2}`, `nul`, `{"k":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := Skip(b, 0)
		ours := err == nil && WS(b, end) == len(b)
		if ours != json.Valid(b) {
			t.Fatalf("Skip says valid=%v, encoding/json %v, for %q", ours, json.Valid(b), b)
		}
		got, err := Decode(b)
		var want any
		werr := json.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Decode error %v, json.Unmarshal error %v", err, werr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode = %#v, json.Unmarshal = %#v", got, want)
		}
		out, err := Append(nil, got)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		var back any
		if err := json.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("Append round trip: %s (%v)", out, err)
		}
	})
}
