package pluginabi

import (
	"fmt"
	"io"
	"time"

	"github.com/weir-gitops/weir/conformance/junit"
)

// Report is the outcome of a run.
type Report struct {
	Results  []Result
	Duration time.Duration
}

// Count returns how many checks ended with st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == st {
			n++
		}
	}
	return n
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Result returns the result of the named check.
func (r *Report) Result(check string) (Result, bool) {
	for _, res := range r.Results {
		if res.Check == check {
			return res, true
		}
	}
	return Result{}, false
}

// FormatResult renders one result as a line of text.
func FormatResult(res Result) string {
	s := fmt.Sprintf("%-4s  %-24s %6.0fms", res.Status, res.Check, float64(res.Duration.Microseconds())/1000)
	if res.Message != "" {
		s += "  " + res.Message
	}
	return s
}

// WriteSummary writes the closing line of a text report.
func (r *Report) WriteSummary(w io.Writer) error {
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped in %s\n",
		verdict, r.Count(Pass), r.Count(Fail), r.Count(Skip), r.Duration.Round(time.Millisecond))
	return err
}

// WriteJUnit writes the report as JUnit XML: one test suite named suite
// (for example the module file or reference), one test case per check.
func (r *Report) WriteJUnit(w io.Writer, suite string) error {
	s := junit.Suite{Name: suite}
	for _, res := range r.Results {
		c := junit.Case{Name: res.Check, ClassName: "pluginabi", Duration: res.Duration, Message: res.Message}
		switch res.Status {
		case Fail:
			c.Status = junit.Failed
		case Skip:
			c.Status = junit.Skipped
		}
		s.Cases = append(s.Cases, c)
	}
	return junit.Write(w, s)
}
