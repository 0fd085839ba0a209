package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// pluginInput is what `engine plugin run` and `bench` read with --input:
// YAML or JSON documents, from a file or stdin ("-").
type pluginInput struct {
	name string           // for messages: the path, or "stdin"
	docs []map[string]any // the non-empty documents, in order
}

// readPluginInput reads path ("-": stdin) as a stream of YAML documents or
// JSON values.
func readPluginInput(path string, stdin io.Reader) (*pluginInput, error) {
	in := &pluginInput{name: path}
	var raw []byte
	var err error
	if path == "-" {
		in.name = "stdin"
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read input: %w", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(raw), 4096)
	for n := 1; ; n++ {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return in, nil
		} else if err != nil {
			return nil, fmt.Errorf("input %s: document %d is not a YAML or JSON object: %w", in.name, n, err)
		}
		if len(doc) > 0 {
			in.docs = append(in.docs, doc)
		}
	}
}

// isResourceList reports a KRM ResourceList (any version of config.kubernetes.io).
func isResourceList(doc map[string]any) bool {
	av, _ := doc["apiVersion"].(string)
	return doc["kind"] == abi.ResourceListKind && strings.HasPrefix(av, "config.kubernetes.io/")
}

// isList reports a v1 List, or any typed list (ConfigMapList, ...).
func isList(doc map[string]any) bool {
	kind, _ := doc["kind"].(string)
	_, items := doc["items"].([]any)
	return kind == "List" || strings.HasSuffix(kind, "List") && items
}

// objects returns the Kubernetes objects of the input: plain documents,
// with the items of Lists expanded. Each must have an apiVersion, a kind
// and a metadata.name.
func (in *pluginInput) objects() ([]map[string]any, error) {
	var out []map[string]any
	for i, doc := range in.docs {
		where := fmt.Sprintf("input %s: document %d", in.name, i+1)
		if isResourceList(doc) {
			return nil, fmt.Errorf("%s: a ResourceList must be the only document", where)
		}
		if !isList(doc) {
			if err := checkObject(doc); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, doc)
			continue
		}
		items, _ := doc["items"].([]any)
		for j, it := range items {
			obj, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: item %d of the %s is not an object", where, j+1, doc["kind"])
			}
			if err := checkObject(obj); err != nil {
				return nil, fmt.Errorf("%s: item %d of the %s: %w", where, j+1, doc["kind"], err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// checkObject asks for what identifies an object.
func checkObject(obj map[string]any) error {
	var missing []string
	for _, f := range []string{"apiVersion", "kind"} {
		if s, _ := obj[f].(string); s == "" {
			missing = append(missing, f)
		}
	}
	meta, _ := obj["metadata"].(map[string]any)
	if s, _ := meta["name"].(string); s == "" {
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a Kubernetes object: no %s", strings.Join(missing, ", no "))
	}
	return nil
}

// resourceList is the transform input: a ResourceList given as such (its
// items and functionConfig are kept), or the objects of the input.
func (in *pluginInput) resourceList() (*abi.ResourceList, error) {
	if len(in.docs) == 1 && isResourceList(in.docs[0]) {
		var rl abi.ResourceList
		if err := remarshal(in.docs[0], &rl); err != nil {
			return nil, fmt.Errorf("input %s: not a valid ResourceList: %w", in.name, err)
		}
		for i, it := range rl.Items {
			if err := checkObject(it); err != nil {
				return nil, fmt.Errorf("input %s: item %d of the ResourceList: %w", in.name, i+1, err)
			}
		}
		if rl.Items == nil {
			rl.Items = []map[string]any{}
		}
		rl.Results = nil
		return &rl, nil
	}
	objs, err := in.objects()
	if err != nil {
		return nil, err
	}
	if objs == nil {
		objs = []map[string]any{}
	}
	return &abi.ResourceList{Items: objs}, nil
}

// event is the notify input: exactly one Flux event.
func (in *pluginInput) event() (abi.Event, error) {
	var ev abi.Event
	if len(in.docs) != 1 {
		return ev, fmt.Errorf("input %s: want one Flux event, got %d documents", in.name, len(in.docs))
	}
	if err := remarshal(in.docs[0], &ev, (*json.Decoder).DisallowUnknownFields); err != nil {
		return ev, fmt.Errorf("input %s: not a Flux event: %w", in.name, err)
	}
	if ev.InvolvedObject.Kind == "" || ev.Reason == "" {
		return ev, fmt.Errorf("input %s: not a Flux event: want involvedObject.kind and reason", in.name)
	}
	return ev, nil
}

// remarshal converts a decoded document into v through JSON.
func remarshal(doc map[string]any, v any, opts ...func(*json.Decoder)) error {
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for _, o := range opts {
		o(dec)
	}
	return dec.Decode(v)
}

// writeDocs prints each value as a YAML document.
func writeDocs[T any](w io.Writer, docs []T) error {
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// objectRef names an object as the plugin ABI kit does: APIVERSION/KIND NS/NAME.
func objectRef(apiVersion, kind, namespace, name string) string {
	s := apiVersion + "/" + kind + " "
	if namespace != "" {
		s += namespace + "/"
	}
	return s + name
}

// writeResults prints a transform's findings, one a line, as kpt does:
// [severity] object: message (field path).
func writeResults(w io.Writer, results []abi.Result) {
	for _, r := range results {
		sev := string(r.Severity)
		if sev == "" {
			sev = "no severity"
		}
		line := "[" + sev + "] "
		if ref := r.ResourceRef; ref != nil {
			line += objectRef(ref.APIVersion, ref.Kind, ref.Namespace, ref.Name) + ": "
		}
		line += r.Message
		if r.Field != nil && r.Field.Path != "" {
			line += " (field " + r.Field.Path + ")"
		}
		fmt.Fprintln(w, line)
	}
}
