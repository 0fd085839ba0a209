package build

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// refuseRemote walks the kustomizations reachable from dir and fails on the
// first reference that is not a file or directory of the source: a URL, a
// git repository (github.com/org/repo//path?ref=v1, git@host:repo) or
// anything else kustomize would fetch. It is Flux's --no-remote-bases: with
// it, everything a build reads comes from the artifact.
func refuseRemote(fs filesys.FileSystem, dir string) error {
	return (&remoteCheck{fs: fs, seen: map[string]bool{}}).visit(dir)
}

type remoteCheck struct {
	fs   filesys.FileSystem
	seen map[string]bool
}

func (c *remoteCheck) visit(dir string) error {
	if c.seen[dir] {
		return nil
	}
	c.seen[dir] = true
	k, file, err := c.load(dir)
	if err != nil || k == nil {
		return err
	}
	refs := append(append(append([]string{}, k.Resources...), k.Components...), k.Crds...)
	for _, p := range k.Patches {
		if p.Path != "" {
			refs = append(refs, p.Path)
		}
	}
	for _, gen := range append(append([]types.GeneratorArgs{}, generatorArgs(k.ConfigMapGenerator)...), secretArgs(k.SecretGenerator)...) {
		for _, src := range gen.FileSources {
			if _, f, found := strings.Cut(src, "="); found {
				src = f
			}
			refs = append(refs, src)
		}
		refs = append(refs, gen.EnvSources...)
		if gen.EnvSource != "" {
			refs = append(refs, gen.EnvSource)
		}
	}
	for _, r := range k.Replacements {
		if r.Path != "" {
			refs = append(refs, r.Path)
		}
	}
	refs = append(refs, k.Configurations...)
	for _, ref := range refs {
		p := path.Clean(ref)
		if !path.IsAbs(p) {
			p = path.Join(dir, p)
		}
		if !strings.HasPrefix(p, SrcRoot+"/") || !c.fs.Exists(p) {
			return fmt.Errorf("%s refers to %q, which is not in the source: remote bases are disabled (--no-remote-bases)",
				strings.TrimPrefix(file, SrcRoot+"/"), ref)
		}
		if c.fs.IsDir(p) {
			if err := c.visit(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// load reads dir's kustomization file; nil when it has none.
func (c *remoteCheck) load(dir string) (*types.Kustomization, string, error) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file := path.Join(dir, name)
		if !c.fs.Exists(file) || c.fs.IsDir(file) {
			continue
		}
		data, err := c.fs.ReadFile(file)
		if err != nil {
			return nil, "", err
		}
		k := &types.Kustomization{}
		if err := yaml.Unmarshal(data, k); err != nil {
			return nil, "", fmt.Errorf("%s is not a valid kustomization: %w", strings.TrimPrefix(file, SrcRoot+"/"), err)
		}
		k.FixKustomization() // bases become resources
		return k, file, nil
	}
	return nil, "", nil
}

func generatorArgs(gens []types.ConfigMapArgs) []types.GeneratorArgs {
	out := make([]types.GeneratorArgs, len(gens))
	for i, g := range gens {
		out[i] = g.GeneratorArgs
	}
	return out
}

func secretArgs(gens []types.SecretArgs) []types.GeneratorArgs {
	out := make([]types.GeneratorArgs, len(gens))
	for i, g := range gens {
		out[i] = g.GeneratorArgs
	}
	return out
}
