package build

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/weir-gitops/weir/engine/internal/decrypt"
)

var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// SrcRoot is where the source is laid out in the in-memory file system.
const SrcRoot = "/src"

// Options are what a build needs besides the file system and the spec.
type Options struct {
	// Client reads substituteFrom ConfigMaps and Secrets. Nil: a dry run
	// that substitutes only spec.postBuild.substitute.
	Client client.Client
	// Decryptor decrypts SOPS-encrypted input; it must not be nil (one
	// without keys makes encrypted input fail clearly).
	Decryptor *decrypt.Decryptor
	// Strict fails on a variable no source sets.
	Strict bool
	// NoRemoteBases refuses every kustomize reference that is not a file of
	// the source (URLs, git repositories), as Flux's --no-remote-bases.
	NoRemoteBases bool
}

// Build renders spec.path of the source in fs (laid out under SrcRoot) as
// the Kustomization k asks, confined to fs. A directory without a
// kustomization file gets one listing its YAML files, as Flux generates it;
// the spec's overlays are written into the path's kustomization file, as
// Flux writes them (see overlay).
func Build(ctx context.Context, fs filesys.FileSystem, k *kustomizev1.Kustomization, opts Options) (_ []*unstructured.Unstructured, err error) {
	c, dec, strict := opts.Client, opts.Decryptor, opts.Strict
	// kustomize panics on some malformed input; that is bad input, not a
	// crash: report it on the status like any build error.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kustomize build failed: %v", p)
		}
	}()
	root := path.Join(SrcRoot, path.Clean("/"+k.Spec.Path))
	if !fs.IsDir(root) {
		return nil, fmt.Errorf("kustomization path not found: %s", k.Spec.Path)
	}
	listing, err := generate(fs, root)
	if err != nil {
		return nil, err
	}
	if opts.NoRemoteBases {
		if err := refuseRemote(fs, root); err != nil {
			return nil, err
		}
	}
	resources, err := kustomizeBuild(fs, root, k, listing, dec)
	if err != nil {
		return nil, err
	}
	var kobj unstructured.Unstructured
	if k.Spec.PostBuild != nil {
		if kobj.Object, err = runtime.DefaultUnstructuredConverter.ToUnstructured(k); err != nil {
			return nil, err
		}
	}
	rf := provider.NewDefaultDepProvider().GetResourceFactory()
	out := make([]*unstructured.Unstructured, 0, len(resources))
	for _, r := range resources {
		u, err := toUnstructured(r)
		if err != nil {
			return nil, err
		}
		// Decrypt first, then substitute, as Flux does.
		if _, encrypted := u.Object["sops"]; encrypted || u.GetKind() == "Secret" {
			if err := dec.DecryptObjects([]*unstructured.Unstructured{u}); err != nil {
				return nil, fmt.Errorf("decryption failed for %s: %w", r.CurId(), err)
			}
		}
		if k.Spec.PostBuild != nil {
			// Flux's own substitution: envsubst syntax, substituteFrom
			// ConfigMaps and Secrets, the substitute: disabled opt-out.
			res, err := rf.FromMap(u.Object)
			if err != nil {
				return nil, fmt.Errorf("post build substitution failed for %s: %w", r.CurId(), err)
			}
			sub, err := fluxkustomize.SubstituteVariables(ctx, c, kobj, res, fluxkustomize.SubstituteWithStrict(strict),
				fluxkustomize.SubstituteWithDryRun(c == nil))
			if err != nil {
				return nil, fmt.Errorf("post build substitution failed for %s: %w", r.CurId(), err)
			}
			if sub != nil {
				if u, err = toUnstructured(sub); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, u)
	}
	// After substitution, on the objects' own metadata only (not pod
	// templates or selectors), as Flux sets it.
	if cm := k.Spec.CommonMetadata; cm != nil {
		ssautil.SetCommonMetadata(out, cm.Labels, cm.Annotations)
	}
	if err := decrypt.EnsureDecrypted(out); err != nil {
		return nil, fmt.Errorf("%w: set spec.decryption to apply it", err)
	}
	return out, nil
}

// kustomizeBuild runs kustomize over root with the spec's overlays, in
// pieces when that gives the same result (see chunked).
func kustomizeBuild(fs filesys.FileSystem, root string, k *kustomizev1.Kustomization, listing *listing, dec *decrypt.Decryptor) ([]*resource.Resource, error) {
	if rs, ok := chunked(fs, root, k, listing); ok {
		return rs, nil
	}
	return wholeBuild(fs, root, k, listing != nil, dec)
}

// wholeBuild writes the spec's overlays into root's kustomization file
// and runs kustomize once over root.
func wholeBuild(fs filesys.FileSystem, root string, k *kustomizev1.Kustomization, generated bool, dec *decrypt.Decryptor) ([]*resource.Resource, error) {
	if err := overlay(fs, root, k, generated); err != nil {
		return nil, err
	}
	// SOPS-encrypted secretGenerator inputs are decrypted in memory, in the
	// artifact's in-memory file system, before kustomize reads them.
	if err := dec.DecryptSources(fs, "/", root); err != nil {
		return nil, fmt.Errorf("decryption failed: %w", err)
	}
	resMap, err := runKustomize(fs, root)
	if err != nil {
		return nil, fmt.Errorf("kustomize build failed: %w", err)
	}
	return resMap.Resources(), nil
}

// overlay sets the spec's kustomize fields in root's kustomization file,
// the way Flux's generator edits it, so the same sources build the same
// objects: targetNamespace, namePrefix and nameSuffix replace the file's
// own; patches and components are added to its lists (patches run at the
// file's level, before its name prefix); an image the file already names
// is updated field by field (a new tag or digest replaces both). A file
// the source brought (not generated) without resources gets kustomize's
// origin annotations, as under Flux, which sets them to avoid kustomize's
// "kustomization is empty" error.
func overlay(fs filesys.FileSystem, root string, k *kustomizev1.Kustomization, generated bool) error {
	kfile := ""
	for _, f := range kustomizationFiles {
		if p := path.Join(root, f); fs.Exists(p) && !fs.IsDir(p) {
			kfile = p
			break
		}
	}
	if kfile == "" {
		return fmt.Errorf("no kustomization file in %s", k.Spec.Path)
	}
	data, err := fs.ReadFile(kfile)
	if err != nil {
		return err
	}
	kus := types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind}}
	if err := yaml.Unmarshal(data, &kus); err != nil {
		return fmt.Errorf("kustomize build failed: invalid %s: %w", path.Base(kfile), err)
	}
	if !generated && len(kus.Resources) == 0 {
		kus.BuildMetadata = []string{types.OriginAnnotations}
	}
	spec := k.Spec
	if spec.TargetNamespace != "" {
		kus.Namespace = spec.TargetNamespace
	}
	if spec.NamePrefix != "" {
		kus.NamePrefix = spec.NamePrefix
	}
	if spec.NameSuffix != "" {
		kus.NameSuffix = spec.NameSuffix
	}
	for _, p := range spec.Patches {
		kp := types.Patch{Patch: p.Patch}
		if p.Target != nil {
			kp.Target = &types.Selector{ResId: resIDFromSelector(p.Target), AnnotationSelector: p.Target.AnnotationSelector, LabelSelector: p.Target.LabelSelector}
		}
		kus.Patches = append(kus.Patches, kp)
	}
	for _, comp := range spec.Components {
		if !fluxkustomize.IsLocalRelativePath(comp) {
			return fmt.Errorf("component path '%s' must be local and relative", comp)
		}
		if !fs.Exists(path.Join(root, comp)) {
			if spec.IgnoreMissingComponents {
				continue
			}
			return fmt.Errorf("component not found: %s", comp)
		}
		kus.Components = append(kus.Components, comp)
	}
	for _, img := range spec.Images {
		i := slices.IndexFunc(kus.Images, func(have types.Image) bool { return have.Name == img.Name })
		if i < 0 {
			kus.Images = append(kus.Images, types.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
			continue
		}
		if img.NewName != "" {
			kus.Images[i].NewName = img.NewName
		}
		// A tag and a digest both pick the version: one set replaces both.
		if img.NewTag != "" || img.Digest != "" {
			kus.Images[i].NewTag, kus.Images[i].Digest = img.NewTag, img.Digest
		}
	}
	out, err := yaml.Marshal(kus)
	if err != nil {
		return fmt.Errorf("encoding the kustomization: %w", err)
	}
	return fs.WriteFile(kfile, out)
}

// kustomize keeps its OpenAPI schema in process-wide state, which it
// initializes on first use without a lock (two builds at once race on it:
// a fatal concurrent map write), and which a kustomization's openapi field
// replaces for every later build. So builds run one at a time, as Flux's
// do, and one that changed the schema leaves it reset (Flux resets it at
// every build, which re-parses the built-in schema: tens of milliseconds).
var kustomizeMu sync.Mutex

// runKustomize builds the kustomization in dir.
func runKustomize(fs filesys.FileSystem, dir string) (resmap.ResMap, error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if openapi.GetSchemaVersion() != "" {
			openapi.ResetOpenAPI()
		}
	}()
	return krusty.MakeKustomizer(kustomizeOptions()).Run(fs, dir)
}

func kustomizeOptions() *krusty.Options {
	kopts := krusty.MakeDefaultOptions()
	kopts.LoadRestrictions = types.LoadRestrictionsNone // the in-memory fs holds only the artifact
	kopts.PluginConfig = types.DisabledPluginConfig()
	return kopts
}

// toUnstructured goes through JSON, so numbers are int64 or float64 as
// unstructured objects require (kyaml's own map holds int).
func toUnstructured(r *resource.Resource) (*unstructured.Unstructured, error) {
	b, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", r.CurId(), err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", r.CurId(), err)
	}
	return u, nil
}

func resIDFromSelector(s *kustomize.Selector) resID {
	return resID{Gvk: resGvk{Group: s.Group, Version: s.Version, Kind: s.Kind}, Name: s.Name, Namespace: s.Namespace}
}

// listing is what generate found under a path without a kustomization
// file: the YAML files it listed and their documents, counted roughly
// (the lines that start one).
type listing struct {
	files []string
	// fileDocs are the documents of each of files; docs their sum.
	fileDocs []int
	docs     int
	// nested: a directory under the path holds a kustomization file (it
	// is listed, not its files).
	nested bool
}

// generate writes a kustomization listing every YAML file under root when
// root has none, skipping hidden files and directories; a directory with
// its own kustomization file is listed as one (not descended into). It
// returns what it listed; nil when root has its own kustomization file.
func generate(fs filesys.FileSystem, root string) (*listing, error) {
	for _, f := range kustomizationFiles {
		if fs.Exists(path.Join(root, f)) {
			return nil, nil
		}
	}
	l := &listing{}
	err := fs.Walk(root, func(p string, info filesysFileInfo, err error) error {
		if err != nil {
			return err
		}
		base := path.Base(p)
		if p != root && strings.HasPrefix(base, ".") {
			if info.IsDir() {
				return filepathSkipDir
			}
			return nil
		}
		if info.IsDir() && p != root {
			// A directory with its own kustomization file is one resource,
			// built by it, as Flux's generator lists it.
			for _, f := range kustomizationFiles {
				if kf := path.Join(p, f); fs.Exists(kf) && !fs.IsDir(kf) {
					l.nested = true
					l.files = append(l.files, strings.TrimPrefix(strings.TrimPrefix(p, root), "/"))
					l.fileDocs = append(l.fileDocs, 0)
					return filepathSkipDir
				}
			}
		}
		if !info.IsDir() && (strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml")) {
			l.files = append(l.files, strings.TrimPrefix(strings.TrimPrefix(p, root), "/"))
			n := 1
			if data, err := fs.ReadFile(p); err == nil {
				n += bytes.Count(data, []byte("\n---"))
			}
			l.fileDocs = append(l.fileDocs, n)
			l.docs += n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing manifests: %w", err)
	}
	kus := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: l.files,
	}
	if len(l.files) == 0 {
		// As Flux: kustomize refuses an empty kustomization.
		kus.Namespace = "_placeholder"
	}
	data, err := yaml.Marshal(kus)
	if err != nil {
		return nil, err
	}
	return l, fs.WriteFile(path.Join(root, "kustomization.yaml"), data)
}
