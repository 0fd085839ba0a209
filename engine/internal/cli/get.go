package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Format is an output format of get and tree.
type Format string

// The output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// ParseFormat validates an -o value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatJSON, FormatYAML:
		return f, nil
	}
	return "", fmt.Errorf("unknown output format %q: want table, json or yaml", s)
}

// Row is one object as get shows it.
type Row struct {
	Kind      string                 `json:"kind"`
	Namespace string                 `json:"namespace"`
	Name      string                 `json:"name"`
	Revision  string                 `json:"revision,omitempty"`
	Suspended bool                   `json:"suspended"`
	Ready     metav1.ConditionStatus `json:"ready"`
	Message   string                 `json:"message"`
}

// NewRow summarizes an object of kind k.
func NewRow(k Kind, obj client.Object) Row {
	st := k.status(obj)
	r := Row{Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Revision: st.Revision,
		Suspended: st.Suspended, Ready: metav1.ConditionUnknown, Message: "waiting to be reconciled"}
	if c := apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition); c != nil {
		r.Ready, r.Message = c.Status, c.Message
	}
	return r
}

// GetQuery selects what get lists.
type GetQuery struct {
	// Kinds to list, in order; `get all` passes Kinds().
	Kinds []Kind
	// Namespace to list in, unless AllNamespaces.
	Namespace     string
	AllNamespaces bool
	// Name selects one object; it needs exactly one kind.
	Name   string
	Format Format
}

// Get lists objects and prints them: one table per kind that has objects
// (names prefixed with the kind when there are several kinds, like
// `flux get all`), or one JSON/YAML list of rows for all kinds.
func (c *Console) Get(ctx context.Context, q GetQuery) error {
	if q.Name != "" && len(q.Kinds) != 1 {
		return fmt.Errorf("a name selects one object of one kind, not of %d kinds", len(q.Kinds))
	}
	var groups [][]Row
	for _, k := range q.Kinds {
		rows, err := c.rows(ctx, k, q)
		if err != nil {
			return err
		}
		groups = append(groups, rows)
	}
	if q.Format != FormatTable && q.Format != "" {
		return WriteRows(c.out, q.Format, slices.Concat(groups...))
	}
	printed := 0
	for i, rows := range groups {
		if len(rows) == 0 {
			continue
		}
		if printed > 0 {
			fmt.Fprintln(c.out)
		}
		if err := rowTable(q.Kinds[i], rows, q.AllNamespaces, len(q.Kinds) > 1).write(c.out, c.color); err != nil {
			return err
		}
		printed++
	}
	if printed == 0 {
		where := "in " + q.Namespace + " namespace"
		if q.AllNamespaces {
			where = "in any namespace"
		}
		what := "objects"
		if len(q.Kinds) == 1 {
			what = q.Kinds[0].Kind + " objects"
		}
		fmt.Fprintf(c.err, "no %s found %s\n", what, where)
	}
	return nil
}

func (c *Console) rows(ctx context.Context, k Kind, q GetQuery) ([]Row, error) {
	if q.Name != "" {
		obj := k.newObject()
		if err := c.kube.Get(ctx, client.ObjectKey{Namespace: q.Namespace, Name: q.Name}, obj); err != nil {
			return nil, fmt.Errorf("getting %s %s/%s: %w", k.Kind, q.Namespace, q.Name, err)
		}
		return []Row{NewRow(k, obj)}, nil
	}
	list := k.newList()
	var opts []client.ListOption
	if !q.AllNamespaces {
		opts = append(opts, client.InNamespace(q.Namespace))
	}
	if err := c.kube.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("listing %s: %w", k.Plural, err)
	}
	return RowsOf(k, list)
}

// RowsOf summarizes every object of list, sorted by namespace and name.
func RowsOf(k Kind, list client.ObjectList) ([]Row, error) {
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("reading the %s list: %w", k.Kind, err)
	}
	rows := make([]Row, 0, len(items))
	for _, it := range items {
		obj, ok := it.(client.Object)
		if !ok {
			return nil, fmt.Errorf("a %s list item is a %T", k.Kind, it)
		}
		rows = append(rows, NewRow(k, obj))
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return rows, nil
}

// rowTable lays rows of kind k out as flux get does: NAME, REVISION (for
// kinds that have one), SUSPENDED, READY, MESSAGE, with NAMESPACE first
// when listing all namespaces and "kind/" before names when listing several
// kinds.
func rowTable(k Kind, rows []Row, allNamespaces, prefixKind bool) table {
	t := table{paint: paintStatus}
	if allNamespaces {
		t.header = append(t.header, "NAMESPACE")
	}
	t.header = append(t.header, "NAME")
	if k.HasRevision() {
		t.header = append(t.header, "REVISION")
	}
	t.header = append(t.header, "SUSPENDED", "READY", "MESSAGE")
	for _, r := range rows {
		var cells []string
		if allNamespaces {
			cells = append(cells, r.Namespace)
		}
		name := r.Name
		if prefixKind {
			name = strings.ToLower(r.Kind) + "/" + name
		}
		cells = append(cells, name)
		if k.HasRevision() {
			cells = append(cells, r.Revision)
		}
		cells = append(cells, boolText(r.Suspended), string(r.Ready), oneLine(r.Message))
		t.rows = append(t.rows, cells)
	}
	return t
}

// WriteTable prints rows of kind k as a table.
func WriteTable(w io.Writer, k Kind, rows []Row, allNamespaces, prefixKind, color bool) error {
	return rowTable(k, rows, allNamespaces, prefixKind).write(w, color)
}

// WriteRows prints rows as a JSON or YAML list.
func WriteRows(w io.Writer, f Format, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	return writeDocument(w, f, rows)
}

func writeDocument(w io.Writer, f Format, v any) error {
	var (
		b   []byte
		err error
	)
	switch f {
	case FormatJSON:
		b, err = json.MarshalIndent(v, "", "  ")
		b = append(b, '\n')
	case FormatYAML:
		b, err = yaml.Marshal(v)
	default:
		return fmt.Errorf("format %q is not a document format", f)
	}
	if err != nil {
		return fmt.Errorf("encoding %s: %w", f, err)
	}
	_, err = w.Write(b)
	return err
}
