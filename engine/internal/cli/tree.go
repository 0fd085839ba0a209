package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Node is one object in a Kustomization's tree.
type Node struct {
	Kind      string  `json:"kind"`
	Group     string  `json:"group,omitempty"`
	Version   string  `json:"version,omitempty"`
	Namespace string  `json:"namespace,omitempty"`
	Name      string  `json:"name"`
	Resources []*Node `json:"resources,omitempty"`
	// Note says why a Kustomization's own objects are missing: it was
	// not found, or it already appears higher up.
	Note string `json:"note,omitempty"`
}

// String is the node as flux tree prints it: Kind/namespace/name, or
// Kind/name for a cluster-scoped object.
func (n *Node) String() string {
	s := n.Kind + "/" + n.Name
	if n.Namespace != "" {
		s = n.Kind + "/" + n.Namespace + "/" + n.Name
	}
	if n.Note != "" {
		s += " (" + n.Note + ")"
	}
	return s
}

// maxTreeDepth stops a chain of Kustomizations that never ends.
const maxTreeDepth = 32

// Tree reads the Kustomization ns/name and, through its
// status.inventory, every object it applied. Kustomizations in the
// inventory become branches with their own inventories, as in flux tree ks.
func (c *Console) Tree(ctx context.Context, ns, name string) (*Node, error) {
	ks := &kustomizev1.Kustomization{}
	if err := c.kube.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ks); err != nil {
		return nil, fmt.Errorf("getting Kustomization %s/%s: %w", ns, name, err)
	}
	root := &Node{Kind: kustomizev1.KustomizationKind, Group: kustomizev1.GroupVersion.Group,
		Version: kustomizev1.GroupVersion.Version, Namespace: ns, Name: name}
	seen := map[string]bool{ns + "/" + name: true}
	if err := c.branch(ctx, root, ks, seen, 0); err != nil {
		return nil, err
	}
	return root, nil
}

func (c *Console) branch(ctx context.Context, n *Node, ks *kustomizev1.Kustomization, seen map[string]bool, depth int) error {
	if ks.Status.Inventory == nil {
		return nil
	}
	for _, e := range ks.Status.Inventory.Entries {
		m, err := object.ParseObjMetadata(e.ID)
		if err != nil {
			return fmt.Errorf("reading inventory entry %q of Kustomization %s/%s: %w", e.ID, ks.Namespace, ks.Name, err)
		}
		child := &Node{Kind: m.GroupKind.Kind, Group: m.GroupKind.Group, Version: e.Version, Namespace: m.Namespace, Name: m.Name}
		n.Resources = append(n.Resources, child)
		if m.GroupKind.Group != kustomizev1.GroupVersion.Group || m.GroupKind.Kind != kustomizev1.KustomizationKind {
			continue
		}
		key := m.Namespace + "/" + m.Name
		if seen[key] || depth >= maxTreeDepth {
			child.Note = "shown above"
			continue
		}
		sub := &kustomizev1.Kustomization{}
		if err := c.kube.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: m.Name}, sub); err != nil {
			if apierrors.IsNotFound(err) {
				child.Note = "not found"
				continue
			}
			return fmt.Errorf("getting Kustomization %s: %w", key, err)
		}
		seen[key] = true
		if err := c.branch(ctx, child, sub, seen, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// WriteTree prints the tree with box-drawing branches, as flux tree does.
func WriteTree(w io.Writer, root *Node) error {
	var b strings.Builder
	b.WriteString(root.String() + "\n")
	writeBranches(&b, root.Resources, "")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeBranches(b *strings.Builder, nodes []*Node, indent string) {
	for i, n := range nodes {
		joint, next := "├── ", "│   "
		if i == len(nodes)-1 {
			joint, next = "└── ", "    "
		}
		b.WriteString(indent + joint + n.String() + "\n")
		writeBranches(b, n.Resources, indent+next)
	}
}

// PrintTree prints the tree in format f.
func (c *Console) PrintTree(root *Node, f Format) error {
	if f == FormatTable || f == "" {
		return WriteTree(c.out, root)
	}
	return writeDocument(c.out, f, root)
}
