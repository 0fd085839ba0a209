package plugin

import (
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Func is an exported or imported function of a module: Module is empty for
// exports; types are Wasm value type names (i32, i64, f32, f64, ...).
type Func struct {
	Module, Name    string
	Params, Results []string
}

// Shape is what a compiled module exports and imports.
type Shape struct {
	Exports  []Func
	Imports  []Func
	Memories []string // exported memories
}

// Shape returns the module's exported and imported functions and exported
// memories, sorted by name, for tools that check a module against the ABI.
func (p *Plugin) Shape() Shape {
	cm := p.mod.compiled
	var s Shape
	for name, d := range cm.ExportedFunctions() {
		s.Exports = append(s.Exports, funcOf("", name, d))
	}
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		s.Imports = append(s.Imports, funcOf(mod, name, d))
	}
	for name := range cm.ExportedMemories() {
		s.Memories = append(s.Memories, name)
	}
	byName := func(a, b Func) int {
		if a.Module != b.Module {
			return strings.Compare(a.Module, b.Module)
		}
		return strings.Compare(a.Name, b.Name)
	}
	slices.SortFunc(s.Exports, byName)
	slices.SortFunc(s.Imports, byName)
	slices.Sort(s.Memories)
	return s
}

func funcOf(mod, name string, d api.FunctionDefinition) Func {
	f := Func{Module: mod, Name: name}
	for _, t := range d.ParamTypes() {
		f.Params = append(f.Params, api.ValueTypeName(t))
	}
	for _, t := range d.ResultTypes() {
		f.Results = append(f.Results, api.ValueTypeName(t))
	}
	return f
}
