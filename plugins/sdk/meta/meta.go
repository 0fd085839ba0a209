package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// ErrNotWasm is returned for input that is not a Wasm 1.0 binary.
var ErrNotWasm = errors.New("not a wasm binary")

// Validate checks m for the fields the engine requires.
func Validate(m abi.Metadata) error {
	if m.ABIVersion != abi.Version {
		return fmt.Errorf("abiVersion %q: want %q", m.ABIVersion, abi.Version)
	}
	if m.Name == "" {
		return errors.New("name is empty")
	}
	if len(m.Capabilities) == 0 {
		return errors.New("no capabilities")
	}
	for _, c := range m.Capabilities {
		if c.Export() == "" {
			return fmt.Errorf("unknown capability %q", c)
		}
	}
	if len(m.ConfigSchema) > 0 && !json.Valid(m.ConfigSchema) {
		return errors.New("configSchema is not valid JSON")
	}
	return nil
}

// Embed validates m and returns wasm with every existing metadata section
// removed and a new one appended.
func Embed(wasm []byte, m abi.Metadata) ([]byte, error) {
	if err := Validate(m); err != nil {
		return nil, fmt.Errorf("validate metadata: %w", err)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	stripped, err := strip(wasm, abi.CustomSection)
	if err != nil {
		return nil, err
	}
	return AppendCustomSection(stripped, abi.CustomSection, payload), nil
}

// Read returns the metadata in wasm.
func Read(wasm []byte) (abi.Metadata, error) {
	var m abi.Metadata
	var payload []byte
	err := walk(wasm, func(id byte, name string, body, _ []byte) {
		if id == 0 && name == abi.CustomSection {
			payload = body
		}
	})
	if err != nil {
		return m, err
	}
	if payload == nil {
		return m, fmt.Errorf("no %s custom section", abi.CustomSection)
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}

// AppendCustomSection appends a custom section (id 0, LEB128 size, LEB128
// name length, name, payload) to wasm.
func AppendCustomSection(wasm []byte, name string, payload []byte) []byte {
	var body []byte
	body = appendULEB(body, uint32(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0)
	out = appendULEB(out, uint32(len(body)))
	return append(out, body...)
}

func strip(wasm []byte, name string) ([]byte, error) {
	out := append([]byte(nil), wasmHeader...)
	err := walk(wasm, func(id byte, n string, _, raw []byte) {
		if id == 0 && n == name {
			return
		}
		out = append(out, raw...)
	})
	return out, err
}

// walk calls fn for each section with its id, custom name (id 0 only), the
// payload after the name, and the raw section bytes.
func walk(wasm []byte, fn func(id byte, name string, body, raw []byte)) error {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return ErrNotWasm
	}
	for rest := wasm[len(wasmHeader):]; len(rest) > 0; {
		start := rest
		id := rest[0]
		size, n, err := readULEB(rest[1:])
		if err != nil {
			return fmt.Errorf("section size: %w", err)
		}
		rest = rest[1+n:]
		if uint64(size) > uint64(len(rest)) {
			return errors.New("section exceeds binary")
		}
		body := rest[:size]
		rest = rest[size:]
		raw := start[:len(start)-len(rest)]
		var name string
		if id == 0 {
			nl, m, err := readULEB(body)
			if err != nil || uint64(nl) > uint64(len(body)-m) {
				return errors.New("bad custom section name")
			}
			name, body = string(body[m:m+int(nl)]), body[m+int(nl):]
		}
		fn(id, name, body, raw)
	}
	return nil
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func readULEB(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, errors.New("truncated leb128")
		}
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("leb128 too long")
}
