package rawjson

import (
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"
)

// ErrSyntax is wrapped by every error about malformed input.
var ErrSyntax = errors.New("invalid json")

// MaxDepth bounds the nesting of arrays and objects that Skip and Decode
// accept, so hostile input cannot exhaust the stack or memory by depth.
const MaxDepth = 10000

func syntaxErr(i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, i)
}

// WS returns the index of the first byte at or after i that is not JSON
// white space.
func WS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Skip skips white space and one value starting at i and returns the index
// just after the value. It checks the structure (brackets, strings, numbers
// and literals) but not the UTF-8 inside strings.
func Skip(b []byte, i int) (int, error) {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '[' per open container
	i = WS(b, i)
	for {
		if i >= len(b) {
			return i, syntaxErr(i, "unexpected end")
		}
		// One value at i.
		switch c := b[i]; c {
		case '"':
			end, err := skipString(b, i)
			if err != nil {
				return end, err
			}
			i = end
		case '{', '[':
			if len(stack) >= MaxDepth {
				return i, syntaxErr(i, "nesting too deep")
			}
			stack = append(stack, c)
			i = WS(b, i+1)
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if i < len(b) && b[i] == closer {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				var err error
				if i, err = skipKey(b, i); err != nil {
					return i, err
				}
			}
			continue
		case 't':
			if !hasPrefix(b[i:], "true") {
				return i, syntaxErr(i, "invalid literal")
			}
			i += 4
		case 'f':
			if !hasPrefix(b[i:], "false") {
				return i, syntaxErr(i, "invalid literal")
			}
			i += 5
		case 'n':
			if !hasPrefix(b[i:], "null") {
				return i, syntaxErr(i, "invalid literal")
			}
			i += 4
		default:
			end, err := skipNumber(b, i)
			if err != nil {
				return end, err
			}
			i = end
		}
		// After a value: close containers or move to the next element.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = WS(b, i)
			if i >= len(b) {
				return i, syntaxErr(i, "unexpected end")
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				i = WS(b, i+1)
				if top == '{' {
					var err error
					if i, err = skipKey(b, i); err != nil {
						return i, err
					}
				}
				break
			}
			if (top == '{' && b[i] == '}') || (top == '[' && b[i] == ']') {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			return i, syntaxErr(i, "expected , or closing bracket")
		}
	}
}

// skipKey skips `"key" :` and the white space after it.
func skipKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return i, syntaxErr(i, "expected object key")
	}
	end, err := skipString(b, i)
	if err != nil {
		return end, err
	}
	i = WS(b, end)
	if i >= len(b) || b[i] != ':' {
		return i, syntaxErr(i, "expected :")
	}
	return WS(b, i+1), nil
}

// skipString skips the string that starts at b[i] == '"'. It looks at
// eight bytes at a time while they hold no quote, backslash or control
// character: strings are most of what a Kubernetes object is made of.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			x := load64(b, j)
			if special(x) != 0 {
				break
			}
			j += 8
		}
		if j >= len(b) {
			return len(b), syntaxErr(len(b), "unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c == '\\':
			j++
			if j >= len(b) {
				return j, syntaxErr(j, "unterminated string")
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) || !isHex4(b[j+1:j+5]) {
					return j, syntaxErr(j, "invalid \\u escape")
				}
				j += 4
			default:
				return j, syntaxErr(j, "invalid escape")
			}
		case c < 0x20:
			return j, syntaxErr(j, "control character in string")
		}
		j++
	}
}

// special is non-zero when one of the eight bytes of x is a quote, a
// backslash or a control character (the exact test of "has a zero byte":
// it never misses one, and a non-zero answer sends the caller to look at
// the bytes one by one).
func special(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	return ((q-lo)&^q | (bs-lo)&^bs | (x-lo*0x20)&^x) & hi
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() bool {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return start, syntaxErr(start, "invalid value")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return i, syntaxErr(i, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, syntaxErr(i, "invalid number")
		}
	}
	return i, nil
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// Iter walks the members of an object or the elements of an array, one
// level deep, without decoding them.
type Iter struct {
	b      []byte
	i      int
	object bool
	first  bool
	done   bool
	err    error
}

// Object returns an Iter over the members of the object v (a complete
// value, as Lookup and Next return). It fails when v is not an object.
func Object(v []byte) (Iter, error) { return newIter(v, '{') }

// Array returns an Iter over the elements of the array v.
func Array(v []byte) (Iter, error) { return newIter(v, '[') }

func newIter(v []byte, open byte) (Iter, error) {
	i := WS(v, 0)
	if i >= len(v) || v[i] != open {
		return Iter{done: true}, fmt.Errorf("%w: not an %s", ErrSyntax, map[byte]string{'{': "object", '[': "array"}[open])
	}
	return Iter{b: v, i: i + 1, object: open == '{', first: true}, nil
}

// Next returns the next member: its key as it appears between the quotes
// (escapes not decoded; empty for arrays) and its value. ok is false at the
// end or on malformed input (see Err).
func (it *Iter) Next() (key, val []byte, ok bool) {
	if key, ok = it.NextKey(); !ok {
		return nil, nil, false
	}
	if val, ok = it.Value(); !ok {
		return nil, nil, false
	}
	return key, val, true
}

// NextKey moves to the next member and returns its key (empty for arrays),
// leaving the value unread: the caller must read it with Value or Elements
// before the next call.
func (it *Iter) NextKey() (key []byte, ok bool) {
	if it.done {
		return nil, false
	}
	b, i := it.b, WS(it.b, it.i)
	closer := byte(']')
	if it.object {
		closer = '}'
	}
	if i < len(b) && b[i] == closer {
		it.done, it.i = true, i+1
		return nil, false
	}
	if !it.first {
		if i >= len(b) || b[i] != ',' {
			return it.failKey(i, "expected , or closing bracket")
		}
		i = WS(b, i+1)
	}
	it.first = false
	if it.object {
		if i >= len(b) || b[i] != '"' {
			return it.failKey(i, "expected object key")
		}
		end, err := skipString(b, i)
		if err != nil {
			it.err, it.done = err, true
			return nil, false
		}
		key = b[i+1 : end-1]
		i = WS(b, end)
		if i >= len(b) || b[i] != ':' {
			return it.failKey(i, "expected :")
		}
		i = WS(b, i+1)
	}
	it.i = i
	return key, true
}

// Value reads the value after NextKey.
func (it *Iter) Value() ([]byte, bool) {
	end, err := Skip(it.b, it.i)
	if err != nil {
		it.err, it.done = err, true
		return nil, false
	}
	v := it.b[it.i:end]
	it.i = end
	return v, true
}

// Elements reads the value after NextKey, which must be an array, and
// returns its elements, in one pass over it.
func (it *Iter) Elements() ([][]byte, error) {
	b, i := it.b, it.i
	if i >= len(b) || b[i] != '[' {
		_, ok := it.Value()
		if !ok {
			return nil, it.err
		}
		return nil, fmt.Errorf("%w: not an array", ErrSyntax)
	}
	var elems [][]byte
	i = WS(b, i+1)
	if i < len(b) && b[i] == ']' {
		it.i = i + 1
		return [][]byte{}, nil
	}
	for {
		end, err := Skip(b, i)
		if err != nil {
			it.err, it.done = err, true
			return nil, err
		}
		elems = append(elems, b[i:end])
		i = WS(b, end)
		if i < len(b) && b[i] == ']' {
			it.i = i + 1
			return elems, nil
		}
		if i >= len(b) || b[i] != ',' {
			it.err, it.done = syntaxErr(i, "expected , or ]"), true
			return nil, it.err
		}
		i = WS(b, i+1)
	}
}

// ElementsAt is Elements for a caller that already knows where the
// elements are: offsets holds a start and an end per element, counted
// from the array's opening bracket. It checks that they tile the array
// (each element starts with { [ " or a value byte, ends before the next
// begins, only white space and one comma lie between, and the array ends
// after the last) without looking inside the elements, and returns false,
// reading nothing, when they do not.
func (it *Iter) ElementsAt(offsets []int) ([][]byte, bool) {
	b, base := it.b, it.i
	if len(offsets)%2 != 0 || base >= len(b) || b[base] != '[' {
		return nil, false
	}
	elems := make([][]byte, len(offsets)/2)
	prev := base + 1
	for k := range elems {
		start, end := base+offsets[2*k], base+offsets[2*k+1]
		if start < prev || end <= start || end > len(b) {
			return nil, false
		}
		gap := b[prev:start]
		if k > 0 {
			// The gap between two elements: white space, one comma.
			c := 0
			for _, x := range gap {
				if x == ',' {
					c++
				} else if x != ' ' && x != '\t' && x != '\n' && x != '\r' {
					return nil, false
				}
			}
			if c != 1 {
				return nil, false
			}
		} else if WS(gap, 0) != len(gap) {
			return nil, false
		}
		if !plausibleEnds(b[start], b[end-1]) {
			return nil, false
		}
		elems[k] = b[start:end]
		prev = end
	}
	close := WS(b, prev)
	if close >= len(b) || b[close] != ']' {
		return nil, false
	}
	it.i = close + 1
	return elems, true
}

// plausibleEnds checks the first and last byte of a value.
func plausibleEnds(first, last byte) bool {
	switch first {
	case '{':
		return last == '}'
	case '[':
		return last == ']'
	case '"':
		return last == '"'
	}
	return first == '-' || first >= '0' && first <= '9' || first == 't' || first == 'f' || first == 'n'
}

func (it *Iter) failKey(i int, what string) ([]byte, bool) {
	it.err, it.done = syntaxErr(i, what), true
	return nil, false
}

// Offset returns the index in the value just after what Next has read:
// after the closing bracket once Next has returned false without an error.
func (it *Iter) Offset() int { return it.i }

// Err returns the error that ended the walk, if any.
func (it *Iter) Err() error { return it.err }

// Lookup returns the value at path inside the object v: each element of
// path names a member of an object. ok is false when a step is missing or
// is not an object.
func Lookup(v []byte, path ...string) ([]byte, bool) {
	for _, p := range path {
		it, err := Object(v)
		if err != nil {
			return nil, false
		}
		found := false
		for k, val, ok := it.Next(); ok; k, val, ok = it.Next() {
			if KeyEqual(k, p) {
				v, found = val, true
				// Later duplicates win, as with encoding/json.
			}
		}
		if !found || it.Err() != nil {
			return nil, false
		}
	}
	return v, true
}

// KeyEqual reports whether the raw key (as Next returns it) decodes to k.
func KeyEqual(raw []byte, k string) bool {
	if len(raw) == len(k) && string(raw) == k {
		return true
	}
	if !hasEscape(raw) {
		return false
	}
	s, err := unquote(raw)
	return err == nil && s == k
}

// Key decodes a raw key as Next returns it.
func Key(raw []byte) (string, error) {
	if !hasEscape(raw) {
		return aliasString(raw), nil
	}
	return unquote(raw)
}

// String decodes the string value v (with its quotes). When v has no
// escapes the result shares v's memory, so v must not change afterwards.
func String(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if !hasEscape(inner) {
		return aliasString(inner), true
	}
	s, err := unquote(inner)
	return s, err == nil
}

func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func hasEscape(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// unquote decodes the escapes of a string's inner bytes.
func unquote(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", syntaxErr(i, "invalid escape")
		}
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := decodeU(b[i-1:])
			if n == 0 {
				return "", syntaxErr(i, "invalid \\u escape")
			}
			out = utf8.AppendRune(out, r)
			i += n - 2
		default:
			return "", syntaxErr(i, "invalid escape")
		}
	}
	return string(out), nil
}

// decodeU decodes \uXXXX (and a following low surrogate) at the start of b
// and returns the rune and the bytes used.
func decodeU(b []byte) (rune, int) {
	hex := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' || !isHex4(b[2:6]) {
			return 0, false
		}
		var r rune
		for _, c := range b[2:6] {
			r <<= 4
			switch {
			case c <= '9':
				r |= rune(c - '0')
			case c >= 'a':
				r |= rune(c - 'a' + 10)
			default:
				r |= rune(c - 'A' + 10)
			}
		}
		return r, true
	}
	r, ok := hex(b)
	if !ok {
		return 0, 0
	}
	if r >= 0xD800 && r < 0xDC00 {
		if lo, ok := hex(b[6:]); ok && lo >= 0xDC00 && lo < 0xE000 {
			return (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, 12
		}
		return utf8.RuneError, 6
	}
	if r >= 0xDC00 && r < 0xE000 {
		return utf8.RuneError, 6
	}
	return r, 6
}

// load64 reads eight bytes at b[j:] in one load (little endian, as on
// every platform the SDK runs on: amd64, arm64 and wasm). The caller
// checks j+8 <= len(b).
func load64(b []byte, j int) uint64 {
	_ = b[j+7]
	return *(*uint64)(unsafe.Pointer(&b[j]))
}
