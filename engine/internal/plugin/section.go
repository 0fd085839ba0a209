package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// readMetadata finds the weir.plugin.v1 custom section without compiling the
// module, so a module with bad metadata costs no compilation.
func readMetadata(wasm []byte) (abi.Metadata, error) {
	var meta abi.Metadata
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return meta, errors.New("not a wasm 1.0 binary")
	}
	var payload []byte
	found := 0
	for rest := wasm[len(wasmHeader):]; len(rest) > 0; {
		id := rest[0]
		size, n, err := readULEB(rest[1:])
		if err != nil || uint64(size) > uint64(len(rest)-1-n) {
			return meta, errors.New("malformed section header")
		}
		body := rest[1+n : 1+n+int(size)]
		rest = rest[1+n+int(size):]
		if id != 0 {
			continue
		}
		nl, m, err := readULEB(body)
		if err != nil || uint64(nl) > uint64(len(body)-m) {
			return meta, errors.New("malformed custom section name")
		}
		if string(body[m:m+int(nl)]) == abi.CustomSection {
			payload, found = body[m+int(nl):], found+1
		}
	}
	switch found {
	case 0:
		return meta, fmt.Errorf("no %s custom section", abi.CustomSection)
	case 1:
	default:
		return meta, fmt.Errorf("%d %s custom sections, want one", found, abi.CustomSection)
	}
	if err := json.Unmarshal(payload, &meta); err != nil {
		return meta, fmt.Errorf("decode metadata: %w", err)
	}
	if meta.ABIVersion != abi.Version {
		return meta, fmt.Errorf("abiVersion %q not supported, want %q", meta.ABIVersion, abi.Version)
	}
	if meta.Name == "" || len(meta.Capabilities) == 0 {
		return meta, errors.New("metadata needs a name and at least one capability")
	}
	for _, c := range meta.Capabilities {
		if c.Export() == "" {
			return meta, fmt.Errorf("unknown capability %q", c)
		}
	}
	if len(meta.ConfigSchema) > 0 && !json.Valid(meta.ConfigSchema) {
		return meta, errors.New("configSchema is not valid JSON")
	}
	return meta, nil
}

func readULEB(b []byte) (uint32, int, error) {
	var v uint32
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad leb128")
}

// ReadMetadata returns a module's ABI metadata without compiling it.
func ReadMetadata(wasm []byte) (abi.Metadata, error) { return readMetadata(wasm) }
