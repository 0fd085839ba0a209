package meta

import (
	"errors"
	"testing"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

func TestEmbedRead(t *testing.T) {
	empty := append([]byte(nil), wasmHeader...)
	m := abi.Metadata{ABIVersion: abi.Version, Name: "x", Version: "0.1.0",
		Capabilities: []abi.Capability{abi.CapabilityTransform}, ConfigSchema: []byte(`{"type":"object"}`)}
	w, err := Embed(empty, m)
	if err != nil {
		t.Fatal(err)
	}
	m.Name = "y"
	w, err = Embed(w, m) // replaces, does not duplicate
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := walk(w, func(byte, string, []byte, []byte) { n++ }); err != nil || n != 1 {
		t.Fatalf("sections=%d err=%v", n, err)
	}
	got, err := Read(w)
	if err != nil || got.Name != "y" || string(got.ConfigSchema) != `{"type":"object"}` {
		t.Fatalf("%+v %v", got, err)
	}
	big := AppendCustomSection(empty, "other", make([]byte, 300)) // multi-byte LEB128
	if _, err := Read(big); err == nil {
		t.Fatal("expected missing section error")
	}
	if _, err := Read([]byte("nope")); !errors.Is(err, ErrNotWasm) {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, m := range []abi.Metadata{
		{ABIVersion: "v2", Name: "x", Capabilities: []abi.Capability{"transform"}},
		{ABIVersion: abi.Version, Capabilities: []abi.Capability{"transform"}},
		{ABIVersion: abi.Version, Name: "x"},
		{ABIVersion: abi.Version, Name: "x", Capabilities: []abi.Capability{"exec"}},
	} {
		if Validate(m) == nil {
			t.Errorf("accepted %+v", m)
		}
	}
}
