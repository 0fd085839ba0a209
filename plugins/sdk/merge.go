package sdk

import (
	"math/bits"
	"slices"

	"github.com/weir-gitops/weir/plugins/sdk/rawjson"
)

// This file applies an Object's edits: to a Get (resolve) and to its JSON
// (appendMerged). Both follow one rule: edits apply in the order they were
// made, a Set or Delete replaces everything below its path, and a Set below
// a missing or non-map value creates maps on the way.

// maxMergedEdits is how many edits appendMerged tracks in its bit masks.
const maxMergedEdits = 64

// resolve returns the value at path with the edits applied.
func (o *Object) resolve(path []string) (any, bool) {
	// The last edit at path or above it decides the starting value.
	start := -1
	for i := len(o.edits) - 1; i >= 0; i-- {
		if isPrefix(o.edits[i].path(), path) {
			start = i
			break
		}
	}
	var base any
	var ok bool
	if start >= 0 {
		if e := &o.edits[start]; e.op != opDelete {
			base, ok = navigate(e.val(), path[e.depth():])
			base = deepCopy(base)
		}
	} else if v, found := rawjson.Lookup(o.raw, path...); found {
		x, err := rawjson.Decode(v)
		base, ok = x, err == nil
	}
	// Later edits below path change that value.
	for i := start + 1; i < len(o.edits); i++ {
		e := &o.edits[i]
		if e.depth() <= len(path) || !isPrefix(path, e.path()) {
			continue
		}
		base, ok = applyEdit(base, ok, e, len(path))
	}
	return base, ok
}

// applyEdit applies e, whose path below depth is relative to base.
func applyEdit(base any, present bool, e *edit, depth int) (any, bool) {
	rel := e.path()[depth:]
	if e.op == opDelete {
		if present {
			deletePath(base, rel)
		}
		return base, present
	}
	m, isMap := base.(map[string]any)
	if !present || !isMap {
		m = map[string]any{}
	}
	setPath(m, rel, deepCopy(e.val()))
	return m, true
}

func isPrefix(prefix, path []string) bool {
	return len(prefix) <= len(path) && slices.Equal(prefix, path[:len(prefix)])
}

func navigate(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

func setPath(m map[string]any, path []string, value any) {
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

func deletePath(v any, path []string) {
	parent, ok := navigate(v, path[:len(path)-1])
	if m, isMap := parent.(map[string]any); ok && isMap {
		delete(m, path[len(path)-1])
	}
}

// deepCopy copies maps and slices so that an edit's value is never shared.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return m
	}
	return v
}

// appendMerged appends the object raw (nil when absent; any non-object
// value counts as absent) with the edits in mask applied: every one of
// them is deeper than depth and they share their path up to depth.
// Members without edits are copied as they are.
func appendMerged(dst, raw []byte, edits []edit, mask uint64, depth int) ([]byte, error) {
	dst = append(dst, '{')
	n := 0
	pending := mask // edits not yet placed under a member
	it, err := rawjson.Object(raw)
	for k, ok := it.NextKey(); err == nil && ok; k, ok = it.NextKey() {
		v, ok := it.Value()
		if !ok {
			break
		}
		var sub uint64
		for m := mask; m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m)
			if rawjson.KeyEqual(k, edits[i].at(depth)) {
				sub |= 1 << i
			}
		}
		pending &^= sub
		if n > 0 {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = append(append(append(dst, '"'), k...), '"', ':')
		if sub == 0 {
			dst = append(dst, v...)
			n++
			continue
		}
		var present bool
		if dst, present, err = appendMember(dst, v, edits, sub, depth+1); err != nil {
			return dst, err
		}
		if !present {
			dst = dst[:start-min(n, 1)]
			continue
		}
		n++
	}
	if err == nil {
		err = it.Err()
	}
	if err != nil && raw != nil {
		return dst, err
	}
	// Keys the edits create, in the order they were first set.
	for pending != 0 {
		i := bits.TrailingZeros64(pending)
		key := edits[i].at(depth)
		var sub uint64
		for m := pending; m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m)
			if edits[j].at(depth) == key {
				sub |= 1 << j
			}
		}
		pending &^= sub
		if n > 0 {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = append(rawjson.AppendString(dst, key), ':')
		var present bool
		if dst, present, err = appendMember(dst, nil, edits, sub, depth+1); err != nil {
			return dst, err
		}
		if !present {
			dst = dst[:start-min(n, 1)]
			continue
		}
		n++
	}
	return append(dst, '}'), nil
}

// appendMember appends the value of one member, raw (nil when absent),
// with the edits in mask, whose paths all reach at least depth. present is
// false when the edits delete it.
func appendMember(dst, raw []byte, edits []edit, mask uint64, depth int) ([]byte, bool, error) {
	// The last edit that sets or deletes the member itself.
	direct := -1
	for m := mask; m != 0; m &= m - 1 {
		if i := bits.TrailingZeros64(m); edits[i].depth() == depth {
			direct = i
		}
	}
	if direct >= 0 {
		e := &edits[direct]
		later := mask &^ (1<<(direct+1) - 1)
		if later == 0 {
			switch e.op {
			case opDelete:
				return dst, false, nil
			case opSetString:
				return rawjson.AppendString(dst, e.str), true, nil
			}
		}
		// A Go value replaces the member; later edits below it change it.
		var base any
		present := e.op != opDelete
		if present {
			base = deepCopy(e.val())
		}
		for m := later; m != 0; m &= m - 1 {
			base, present = applyEdit(base, present, &edits[bits.TrailingZeros64(m)], depth)
		}
		if !present {
			return dst, false, nil
		}
		out, err := rawjson.Append(dst, base)
		return out, true, err
	}
	isObject := len(raw) > 0 && raw[0] == '{'
	if !isObject && onlyDeletes(edits, mask) {
		// Deleting below a value that is not an object changes nothing.
		if raw == nil {
			return dst, false, nil
		}
		return append(dst, raw...), true, nil
	}
	if !isObject {
		raw = nil
	}
	out, err := appendMerged(dst, raw, edits, mask, depth)
	return out, true, err
}

func onlyDeletes(edits []edit, mask uint64) bool {
	for m := mask; m != 0; m &= m - 1 {
		if edits[bits.TrailingZeros64(m)].op != opDelete {
			return false
		}
	}
	return true
}
