// Command deny-latest-tag is a Weir transform plugin that refuses to let a
// workload run an image by the mutable tag "latest" or by no tag at all: it
// reports an error result per container, so the Kustomization applies
// nothing until the manifests pin their images. It changes no object.
package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

var _ = sdk.HandleTransform(denyLatest)

// podSpecPaths are where each workload kind keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

func denyLatest(_ context.Context, rl *sdk.ResourceList) error {
	for _, obj := range rl.Items {
		path, ok := podSpecPaths[obj.Kind()]
		if !ok {
			continue
		}
		for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
			v, _ := obj.Get(append(append([]string{}, path...), list)...)
			containers, _ := v.([]any)
			for _, c := range containers {
				cm, _ := c.(map[string]any)
				image, _ := cm["image"].(string)
				name, _ := cm["name"].(string)
				if mutable(image) {
					rl.Result(abi.SeverityError, obj, sdk.FieldPath(append(append([]string{}, path...), list, name, "image")...),
						fmt.Sprintf("container %q uses image %q: pin a tag other than latest, or a digest", name, image))
				}
			}
		}
	}
	return nil
}

// mutable reports an image without a digest whose tag is latest or absent.
func mutable(image string) bool {
	if image == "" || strings.Contains(image, "@") {
		return false
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	return i < 0 || last[i+1:] == "latest"
}

func main() {}
