package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/weir-gitops/weir/engine/internal/build"
	"github.com/weir-gitops/weir/engine/internal/decrypt"
	"github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// NewBuildCmd returns `engine build`: an offline render of a Kustomization
// with its transforms, like `flux build kustomization`.
func NewBuildCmd(stdout io.Writer) *cobra.Command {
	var (
		dir     string
		plugins []string
		configs []string
	)
	cmd := &cobra.Command{
		Use:   "build KUSTOMIZATION.yaml --path DIR [--plugin FILE.wasm ...]",
		Short: "Render a Kustomization offline, with transform plugins, as the engine would apply it",
		Long: `Render a Flux Kustomization from a local checkout, without a cluster: kustomize build
confined to --path, the Kustomization's overlays, postBuild.substitute (substituteFrom needs
a cluster and is skipped), then each --plugin transform in the order given. Prints the
objects as YAML. A transform's error results fail the build with their messages, as they
would fail a reconcile. Plugins are local files here, so no signature is checked.`,
		Example: `  engine build clusters/prod/apps.yaml --path . --plugin bin/plugins/add-labels.wasm --plugin-config team=platform`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := readKustomization(args[0])
			if err != nil {
				return err
			}
			objs, err := render(cmd.Context(), k, dir, plugins, configs)
			if err != nil {
				return err
			}
			return writeYAML(stdout, objs)
		},
	}
	cmd.Flags().StringVar(&dir, "path", ".", "Local directory that stands for the source's artifact (spec.path is resolved in it).")
	cmd.Flags().StringArrayVar(&plugins, "plugin", nil, "A transform plugin module to run after the build; repeat for several, in order.")
	cmd.Flags().StringArrayVar(&configs, "plugin-config", nil, "KEY=VALUE passed to every plugin as its config; repeat for several.")
	return cmd
}

func readKustomization(p string) (*kustomizev1.Kustomization, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading the Kustomization: %w", err)
	}
	k := &kustomizev1.Kustomization{}
	if err := yaml.UnmarshalStrict(b, k); err != nil {
		return nil, fmt.Errorf("%s is not a Kustomization: %w", p, err)
	}
	if k.Kind != kustomizev1.KustomizationKind {
		return nil, fmt.Errorf("%s is a %q, not a Kustomization", p, k.Kind)
	}
	return k, nil
}

func render(ctx context.Context, k *kustomizev1.Kustomization, dir string, plugins, configs []string) ([]*unstructured.Unstructured, error) {
	fs, err := build.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	dec, err := decrypt.New(nil)
	if err != nil {
		return nil, err
	}
	objs, err := build.Build(ctx, fs, k, build.Options{Decryptor: dec})
	if err != nil {
		return nil, err
	}
	if len(plugins) == 0 {
		return objs, nil
	}
	cfg := map[string]any{}
	for _, kv := range configs {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--plugin-config %q: want KEY=VALUE", kv)
		}
		cfg[key] = value
	}
	host, err := plugin.NewHost(plugin.Options{})
	if err != nil {
		return nil, err
	}
	defer host.Close(context.Background())
	for _, p := range plugins {
		wasm, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading plugin: %w", err)
		}
		loaded, err := host.Load(ctx, plugin.Spec{Key: plugin.Key{Name: p}, Wasm: wasm, Config: cfg})
		if err != nil {
			return nil, err
		}
		items := make([]map[string]any, len(objs))
		for i, u := range objs {
			items[i] = u.Object
		}
		out, err := loaded.Transform(ctx, &abi.ResourceList{Items: items})
		if err != nil {
			return nil, fmt.Errorf("transform plugin %s: %w", p, err)
		}
		if errs := plugin.ErrorResults(out.Results); len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, r := range errs {
				msgs[i] = r.Message
				if r.ResourceRef != nil {
					msgs[i] = r.ResourceRef.Kind + "/" + r.ResourceRef.Name + ": " + r.Message
				}
			}
			return nil, errors.New("transform plugin " + p + " refused the build: " + strings.Join(msgs, "; "))
		}
		objs = objs[:0]
		for _, it := range out.Items {
			objs = append(objs, &unstructured.Unstructured{Object: it})
		}
	}
	return objs, nil
}

func writeYAML(w io.Writer, objs []*unstructured.Unstructured) error {
	docs := make([]map[string]any, len(objs))
	for i, u := range objs {
		docs[i] = u.Object
	}
	return writeDocs(w, docs)
}
