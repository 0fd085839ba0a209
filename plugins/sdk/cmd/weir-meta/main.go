// Command weir-meta writes Weir plugin metadata into a built Wasm module:
//
//	weir-meta -in plugin.wasm -meta plugin.json [-out plugin.wasm]
//
// plugin.json holds abi.Metadata ({abiVersion, name, version, capabilities,
// configSchema}). Any existing weir.plugin.v1 section is replaced. With
// -print it prints the metadata of -in instead.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/meta"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "weir-meta:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("weir-meta", flag.ContinueOnError)
	in := fs.String("in", "", "input .wasm")
	metaPath := fs.String("meta", "", "metadata JSON file")
	out := fs.String("out", "", "output .wasm (default: -in)")
	print := fs.Bool("print", false, "print the metadata of -in")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wasm, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("read module: %w", err)
	}
	if *print {
		m, err := meta.Read(wasm)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	raw, err := os.ReadFile(*metaPath)
	if err != nil {
		return fmt.Errorf("read metadata: %w", err)
	}
	var m abi.Metadata
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("decode metadata: %w", err)
	}
	res, err := meta.Embed(wasm, m)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = *in
	}
	return os.WriteFile(*out, res, 0o644)
}
