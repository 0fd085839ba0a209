package pluginabi

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
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

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the report as JUnit XML: one test suite named suite
// (for example the module file or reference), one test case per check.
func (r *Report) WriteJUnit(w io.Writer, suite string) error {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	s := junitSuite{Name: suite, Tests: len(r.Results), Failures: r.Count(Fail), Skipped: r.Count(Skip), Time: secs(r.Duration)}
	for _, res := range r.Results {
		c := junitCase{Name: res.Check, ClassName: "pluginabi", Time: secs(res.Duration)}
		switch res.Status {
		case Fail:
			c.Failure = &junitMessage{Message: res.Message}
		case Skip:
			c.Skipped = &junitMessage{Message: res.Message}
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
