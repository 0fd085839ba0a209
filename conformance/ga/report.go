package ga

import (
	"fmt"
	"io"
	"strings"

	"github.com/weir-gitops/weir/conformance/junit"
)

// WriteSummary writes a readable summary: failed and skipped cases with
// their messages, then the counts.
func (r *Report) WriteSummary(w io.Writer) error {
	var b strings.Builder
	for _, st := range []Status{Failed, Skipped} {
		for _, c := range r.Results {
			if c.Status == st {
				fmt.Fprintf(&b, "%s %s\n    %s\n", strings.ToUpper(string(st)), c.Name, strings.ReplaceAll(c.Message, "\n", "\n    "))
			}
		}
	}
	fmt.Fprintf(&b, "\nGA conformance: %d cases, %d passed, %d failed, %d skipped in %.1fs\n",
		len(r.Results), r.Count(Passed), r.Count(Failed), r.Count(Skipped), r.Duration.Seconds())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJUnit writes the report as JUnit XML: one testsuite per area
// (gitrepository, kustomization, receiver, ...).
func (r *Report) WriteJUnit(w io.Writer) error {
	var suites []junit.Suite
	idx := map[string]int{}
	for _, c := range r.Results {
		i, ok := idx[c.Area]
		if !ok {
			i = len(suites)
			idx[c.Area] = i
			suites = append(suites, junit.Suite{Name: "ga/" + c.Area})
		}
		jc := junit.Case{Name: c.Name, ClassName: "ga." + c.Area, Duration: c.Duration, Message: c.Message}
		switch c.Status {
		case Failed:
			jc.Status = junit.Failed
		case Skipped:
			jc.Status = junit.Skipped
		}
		suites[i].Cases = append(suites[i].Cases, jc)
	}
	return junit.Write(w, suites...)
}
