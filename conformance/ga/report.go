package ga

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
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
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite per area
// (gitrepository, kustomization, receiver, ...).
func (r *Report) WriteJUnit(w io.Writer) error {
	var out junitSuites
	idx := map[string]int{}
	var secs []float64
	for _, c := range r.Results {
		i, ok := idx[c.Area]
		if !ok {
			i = len(out.Suites)
			idx[c.Area] = i
			out.Suites = append(out.Suites, junitSuite{Name: "ga/" + c.Area})
			secs = append(secs, 0)
		}
		secs[i] += c.Duration.Seconds()
		s := &out.Suites[i]
		jc := junitCase{Name: c.Name, Classname: "ga." + c.Area, Time: fmt.Sprintf("%.3f", c.Duration.Seconds())}
		switch c.Status {
		case Failed:
			s.Failures++
			jc.Failure = &junitMessage{Message: firstLine(c.Message), Body: c.Message}
		case Skipped:
			s.Skipped++
			jc.Skipped = &junitMessage{Message: c.Message}
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
	for i := range out.Suites {
		out.Suites[i].Time = fmt.Sprintf("%.3f", secs[i])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
