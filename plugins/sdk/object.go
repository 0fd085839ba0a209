package sdk

import (
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// Object is one Kubernetes object. It keeps the JSON it arrived as and
// reads fields from it on demand; Set and Delete record edits that are
// spliced into that JSON when the object is encoded. An object nobody
// edits is passed through as the same bytes, and a field nobody asks for
// is never decoded: that is what keeps a plugin cheap in WebAssembly.
//
// Get returns copies: to change a field, use Set, Delete or the label and
// annotation helpers. An Object is not safe for concurrent use.
type Object struct {
	raw    []byte  // the object as received, or nil
	edits  []edit  // in the order they were made
	inline [1]edit // the first edit, without an allocation
}

// edit is one Set or Delete at prefix+key. The prefix of the label and
// annotation helpers is shared, and a string value is kept unboxed, so
// that the common edits allocate nothing.
type edit struct {
	prefix []string
	key    string
	op     editOp
	str    string // the value of opSetString
	value  any    // the value of opSet
}

type editOp uint8

const (
	opSet editOp = iota
	opSetString
	opDelete
)

func (e *edit) depth() int { return len(e.prefix) + 1 }

// at returns the path element at depth i.
func (e *edit) at(i int) string {
	if i < len(e.prefix) {
		return e.prefix[i]
	}
	return e.key
}

// path returns the whole path (it allocates).
func (e *edit) path() []string {
	return append(append(make([]string, 0, e.depth()), e.prefix...), e.key)
}

// val returns the value a Set stores.
func (e *edit) val() any {
	if e.op == opSetString {
		return e.str
	}
	return e.value
}

func (o *Object) addEdit(e edit) {
	if o.edits == nil {
		o.edits = o.inline[:0]
	}
	o.edits = append(o.edits, e)
}

var (
	labelsPath      = []string{"metadata", "labels"}
	annotationsPath = []string{"metadata", "annotations"}
)

// NewObject returns an Object holding a copy of m's content.
func NewObject(m map[string]any) *Object {
	o := &Object{}
	for _, k := range sortedKeys(m) {
		o.Set(m[k], k)
	}
	return o
}

// ParseObject returns the Object whose JSON is b. It checks that b is one
// JSON object; b must not change afterwards.
func ParseObject(b []byte) (*Object, error) {
	i := rawjson.WS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("parse object: %w: not an object", rawjson.ErrSyntax)
	}
	end, err := rawjson.Skip(b, i)
	if err != nil {
		return nil, fmt.Errorf("parse object: %w", err)
	}
	if rawjson.WS(b, end) != len(b) {
		return nil, fmt.Errorf("parse object: %w: trailing data", rawjson.ErrSyntax)
	}
	return &Object{raw: b[i:end]}, nil
}

// APIVersion returns .apiVersion.
func (o *Object) APIVersion() string { return o.GetString("apiVersion") }

// Kind returns .kind.
func (o *Object) Kind() string { return o.GetString("kind") }

// Name returns .metadata.name.
func (o *Object) Name() string { return o.GetString("metadata", "name") }

// Namespace returns .metadata.namespace.
func (o *Object) Namespace() string { return o.GetString("metadata", "namespace") }

// Get returns a copy of the value at path, decoded as encoding/json decodes
// into an any (map[string]any, []any, string, float64, bool, nil), and
// whether it exists.
func (o *Object) Get(path ...string) (any, bool) {
	if o == nil {
		return nil, false
	}
	if len(o.edits) == 0 {
		v, ok := rawjson.Lookup(o.raw, path...)
		if !ok {
			return nil, false
		}
		x, err := rawjson.Decode(v)
		return x, err == nil
	}
	return o.resolve(path)
}

// GetString returns the string at path, or "" when absent or not a string.
// It allocates nothing when the object has no edits along path.
func (o *Object) GetString(path ...string) string {
	if o == nil {
		return ""
	}
	if !o.editedAlong(path) {
		v, ok := rawjson.Lookup(o.raw, path...)
		if !ok {
			return ""
		}
		s, _ := rawjson.String(v)
		return s
	}
	v, _ := o.Get(path...)
	s, _ := v.(string)
	return s
}

// GetMap returns a copy of the map at path, or nil.
func (o *Object) GetMap(path ...string) map[string]any {
	v, _ := o.Get(path...)
	m, _ := v.(map[string]any)
	return m
}

// Has reports whether path exists.
func (o *Object) Has(path ...string) bool {
	if o == nil {
		return false
	}
	if !o.editedAlong(path) {
		_, ok := rawjson.Lookup(o.raw, path...)
		return ok
	}
	_, ok := o.Get(path...)
	return ok
}

// Set sets the value at path, creating intermediate maps (and replacing
// non-map values on the way). The value is encoded when the object is; do
// not change it afterwards.
func (o *Object) Set(value any, path ...string) {
	if len(path) == 0 {
		return
	}
	e := edit{prefix: clonePath(path[:len(path)-1]), key: path[len(path)-1], op: opSet, value: value}
	if s, ok := value.(string); ok {
		e.op, e.str, e.value = opSetString, s, nil
	}
	o.addEdit(e)
}

// SetString sets the string at path; it allocates nothing for a path of
// one element.
func (o *Object) SetString(value string, path ...string) {
	if len(path) == 0 {
		return
	}
	o.addEdit(edit{prefix: clonePath(path[:len(path)-1]), key: path[len(path)-1], op: opSetString, str: value})
}

// Delete removes the value at path, if present.
func (o *Object) Delete(path ...string) {
	if len(path) == 0 {
		return
	}
	o.addEdit(edit{prefix: clonePath(path[:len(path)-1]), key: path[len(path)-1], op: opDelete})
}

func clonePath(path []string) []string {
	if len(path) == 0 {
		return nil
	}
	return append(make([]string, 0, len(path)), path...)
}

// editedAlong reports whether an edit touches path, one of its ancestors or
// one of its descendants.
func (o *Object) editedAlong(path []string) bool {
	if o == nil {
		return false
	}
	for i := range o.edits {
		e := &o.edits[i]
		related := true
		for d := range min(e.depth(), len(path)) {
			if e.at(d) != path[d] {
				related = false
				break
			}
		}
		if related {
			return true
		}
	}
	return false
}

func (o *Object) stringMap(path ...string) map[string]string {
	out := map[string]string{}
	if o == nil {
		return out
	}
	if !o.editedAlong(path) {
		v, ok := rawjson.Lookup(o.raw, path...)
		if !ok {
			return out
		}
		it, err := rawjson.Object(v)
		if err != nil {
			return out
		}
		for k, val, ok := it.Next(); ok; k, val, ok = it.Next() {
			key, err := rawjson.Key(k)
			if s, isStr := rawjson.String(val); isStr && err == nil {
				out[key] = s
			}
		}
		return out
	}
	for k, v := range o.GetMap(path...) {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// GetLabels returns a copy of .metadata.labels.
func (o *Object) GetLabels() map[string]string { return o.stringMap("metadata", "labels") }

// SetLabel sets one label.
func (o *Object) SetLabel(key, value string) {
	o.addEdit(edit{prefix: labelsPath, key: key, op: opSetString, str: value})
}

// GetAnnotations returns a copy of .metadata.annotations.
func (o *Object) GetAnnotations() map[string]string {
	return o.stringMap("metadata", "annotations")
}

// SetAnnotation sets one annotation.
func (o *Object) SetAnnotation(key, value string) {
	o.addEdit(edit{prefix: annotationsPath, key: key, op: opSetString, str: value})
}

// Ref returns the ResourceRef that identifies o in a Result.
func (o *Object) Ref() *abi.ResourceRef {
	return &abi.ResourceRef{APIVersion: o.APIVersion(), Kind: o.Kind(), Name: o.Name(), Namespace: o.Namespace()}
}

// Edited reports whether Set or Delete was called.
func (o *Object) Edited() bool { return o != nil && len(o.edits) > 0 }

// Map returns a copy of the whole object as a map.
func (o *Object) Map() map[string]any {
	m, _ := o.Get()
	mm, _ := m.(map[string]any)
	if mm == nil {
		mm = map[string]any{}
	}
	return mm
}

// AppendJSON appends the object's JSON, with its edits spliced in.
func (o *Object) AppendJSON(dst []byte) ([]byte, error) {
	if o == nil {
		return append(dst, "null"...), nil
	}
	if len(o.edits) == 0 {
		if o.raw == nil {
			return append(dst, "{}"...), nil
		}
		return append(dst, o.raw...), nil
	}
	if len(o.edits) > maxMergedEdits {
		// Rare: more edits than appendMerged tracks. Encode the whole
		// object from its decoded form instead.
		return rawjson.Append(dst, o.Map())
	}
	return appendMerged(dst, o.raw, o.edits, ^uint64(0)>>(64-len(o.edits)), 0)
}

// MarshalJSON encodes the object with its edits.
func (o *Object) MarshalJSON() ([]byte, error) { return o.AppendJSON(nil) }

// UnmarshalJSON keeps a copy of b as the object's JSON and drops any edits.
func (o *Object) UnmarshalJSON(b []byte) error {
	p, err := ParseObject(append([]byte(nil), b...))
	if err != nil {
		return err
	}
	*o = *p
	return nil
}

// String returns the object's JSON, for debugging.
func (o *Object) String() string {
	b, err := o.AppendJSON(nil)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// FieldPath joins path elements in the dotted form used by Result.Field.
func FieldPath(path ...string) string { return strings.Join(path, ".") }
