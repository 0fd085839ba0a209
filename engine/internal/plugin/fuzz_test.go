package plugin

import (
	"encoding/json"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// FuzzDecodeOutput feeds arbitrary guest output to the decoders: they must
// never panic, and what they accept must survive a round trip.
func FuzzDecodeOutput(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"config.kubernetes.io/v1","kind":"ResourceList","items":[{"kind":"A"}],"results":[{"message":"m","severity":"error","field":{"path":"a.b","proposedValue":1}}]}`))
	f.Add([]byte(`{"status":"Current","message":"ok"}`))
	f.Add([]byte(`{"delivered":true}`))
	f.Add([]byte(`{"items":[null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rl, err := DecodeResourceList(b); err == nil {
			again, err := json.Marshal(rl)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeResourceList(again); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			_ = ErrorResults(rl.Results)
		}
		_, _ = DecodeHealth(b)
		_, _ = DecodeNotify(b)
		var v uint64
		for i, c := range b {
			if i == 8 {
				break
			}
			v = v<<8 | uint64(c)
		}
		if ptr, n, code := abi.Unpack(v); ptr == 0 && n != 0 || ptr != 0 && code != abi.CodeOK {
			t.Fatalf("unpack %x: %d %d %d", v, ptr, n, code)
		}
	})
}

// FuzzReadMetadata feeds arbitrary bytes to the section reader.
func FuzzReadMetadata(f *testing.F) {
	f.Add(appendCustomSection(append([]byte(nil), wasmHeader...), abi.CustomSection,
		[]byte(`{"abiVersion":"v1","name":"x","capabilities":["transform"]}`)))
	f.Add(append(append([]byte(nil), wasmHeader...), 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readMetadata(b)
	})
}
