// Package junit writes conformance results as JUnit XML, the report format
// CI systems read: one test suite per group of cases, one test case per
// case or check.
//
// It must not import Kubernetes or the engine.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is a case's outcome.
type Status int

// The outcomes of a case.
const (
	Passed Status = iota
	Failed
	Skipped
)

// Case is one test case.
type Case struct {
	Name, ClassName string
	Status          Status
	Duration        time.Duration
	// Message says why a case failed or was skipped.
	Message string
}

// Suite is a named group of cases.
type Suite struct {
	Name  string
	Cases []Case
}

type xmlSuites struct {
	XMLName xml.Name   `xml:"testsuites"`
	Suites  []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name     string    `xml:"name,attr"`
	Tests    int       `xml:"tests,attr"`
	Failures int       `xml:"failures,attr"`
	Skipped  int       `xml:"skipped,attr"`
	Time     string    `xml:"time,attr"`
	Cases    []xmlCase `xml:"testcase"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	ClassName string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Failure   *xmlMessage `xml:"failure,omitempty"`
	Skipped   *xmlMessage `xml:"skipped,omitempty"`
}

type xmlMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// Write writes suites as a JUnit XML document.
func Write(w io.Writer, suites ...Suite) error {
	var out xmlSuites
	for _, s := range suites {
		xs := xmlSuite{Name: s.Name, Tests: len(s.Cases)}
		var total time.Duration
		for _, c := range s.Cases {
			total += c.Duration
			xc := xmlCase{Name: c.Name, ClassName: c.ClassName, Time: seconds(c.Duration)}
			switch c.Status {
			case Failed:
				xs.Failures++
				first, _, _ := strings.Cut(c.Message, "\n")
				xc.Failure = &xmlMessage{Message: first, Body: c.Message}
			case Skipped:
				xs.Skipped++
				xc.Skipped = &xmlMessage{Message: c.Message}
			}
			xs.Cases = append(xs.Cases, xc)
		}
		xs.Time = seconds(total)
		out.Suites = append(out.Suites, xs)
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
