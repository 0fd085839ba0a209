package rawjson

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Decode decodes the value v into the shapes encoding/json gives an any:
// map[string]any, []any, string, float64, bool or nil. Strings are copied.
func Decode(v []byte) (any, error) {
	i := WS(v, 0)
	x, end, err := decode(v, i, 0)
	if err != nil {
		return nil, err
	}
	if WS(v, end) != len(v) {
		return nil, syntaxErr(end, "trailing data")
	}
	return x, nil
}

func decode(b []byte, i, depth int) (any, int, error) {
	if depth > MaxDepth {
		return nil, i, syntaxErr(i, "nesting too deep")
	}
	if i >= len(b) {
		return nil, i, syntaxErr(i, "unexpected end")
	}
	switch b[i] {
	case '{':
		m := map[string]any{}
		it := Iter{b: b, i: i + 1, object: true, first: true}
		for k, val, ok := it.Next(); ok; k, val, ok = it.Next() {
			key, err := Key(k)
			if err != nil {
				return nil, i, err
			}
			x, _, err := decode(val, 0, depth+1)
			if err != nil {
				return nil, i, err
			}
			m[validUTF8(key)] = x
		}
		if it.err != nil {
			return nil, it.i, it.err
		}
		return m, it.i, nil
	case '[':
		a := []any{}
		it := Iter{b: b, i: i + 1, first: true}
		for _, val, ok := it.Next(); ok; _, val, ok = it.Next() {
			x, _, err := decode(val, 0, depth+1)
			if err != nil {
				return nil, i, err
			}
			a = append(a, x)
		}
		if it.err != nil {
			return nil, it.i, it.err
		}
		return a, it.i, nil
	case '"':
		end, err := skipString(b, i)
		if err != nil {
			return nil, end, err
		}
		s, ok := String(b[i:end])
		if !ok {
			return nil, i, syntaxErr(i, "invalid string")
		}
		return validUTF8(s), end, nil
	case 't', 'f', 'n':
		end, err := Skip(b, i)
		if err != nil {
			return nil, end, err
		}
		switch b[i] {
		case 't':
			return true, end, nil
		case 'f':
			return false, end, nil
		}
		return nil, end, nil
	}
	end, err := skipNumber(b, i)
	if err != nil {
		return nil, end, err
	}
	f, err := strconv.ParseFloat(string(b[i:end]), 64)
	if err != nil {
		return nil, end, syntaxErr(i, "number out of range")
	}
	return f, end, nil
}

// Raw is JSON that Append copies as it is.
type Raw []byte

// Append appends v as JSON. It handles the shapes Decode returns, Raw,
// strings, booleans, every integer and float type, string maps and slices
// of strings without reflection, and falls back to encoding/json for
// anything else. Map keys are sorted, as with encoding/json.
func Append(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return AppendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case json.Number:
		if _, err := skipNumber([]byte(x), 0); err != nil || x == "" {
			return dst, fmt.Errorf("encode json.Number %q: %w", string(x), ErrSyntax)
		}
		return append(dst, x...), nil
	case Raw:
		return append(dst, x...), nil
	case map[string]any:
		dst = append(dst, '{')
		for n, k := range sortedKeys(x) {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = append(AppendString(dst, k), ':')
			var err error
			if dst, err = Append(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case map[string]string:
		dst = append(dst, '{')
		for n, k := range sortedKeys(x) {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(append(AppendString(dst, k), ':'), x[k])
		}
		return append(dst, '}'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for n, e := range x {
			if n > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = Append(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for n, e := range x {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, e)
		}
		return append(dst, ']'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("encode %T: %w", v, err)
	}
	return append(dst, b...), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFloat formats as encoding/json does.
func appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("encode %v: unsupported value", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// and U+2028 and U+2029 are escaped, as with encoding/json.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validUTF8 copies s, replacing each byte of invalid UTF-8 with U+FFFD, as
// encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return string([]byte(s))
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return string(out)
}
