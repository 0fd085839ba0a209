package diff

import (
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// HasChanges reports whether the apply would change anything.
func (r *Result) HasChanges() bool { return len(r.Changes) > 0 }

// Write prints a unified diff per changed object, each after a line that
// names the object and the action, then a summary line.
func (r *Result) Write(w io.Writer) error {
	var b strings.Builder
	counts := map[Action]int{}
	for _, c := range r.Changes {
		counts[c.Action]++
		before, err := lines(c.Before)
		if err != nil {
			return err
		}
		after, err := lines(c.After)
		if err != nil {
			return err
		}
		from, to := c.ID+" (live)", c.ID+" (after apply)"
		if c.Before == nil {
			from = "/dev/null"
		}
		if c.After == nil {
			to = "/dev/null"
		}
		text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: before, B: after, FromFile: from, ToFile: to, Context: 3})
		if err != nil {
			return fmt.Errorf("diffing %s: %w", c.ID, err)
		}
		fmt.Fprintf(&b, "► %s %s\n%s", c.ID, c.Action, text)
	}
	fmt.Fprintf(&b, "Kustomization %s/%s at %s: %d created, %d configured, %d pruned, %d unchanged",
		r.Namespace, r.Name, r.Revision, counts[Created], counts[Configured], counts[Pruned], r.Unchanged)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped by policy", r.Skipped)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// lines is u as YAML, a line per element with its newline; nil for no
// object.
func lines(u *unstructured.Unstructured) ([]string, error) {
	if u == nil {
		return nil, nil
	}
	y, err := yaml.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", u.GetName(), err)
	}
	l := strings.SplitAfter(string(y), "\n") // y ends with a newline
	return l[:len(l)-1], nil
}
