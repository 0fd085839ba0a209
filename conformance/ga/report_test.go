package ga

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func TestReportWriters(t *testing.T) {
	r := &Report{Duration: 3 * time.Second, Results: []Result{
		{Name: "gitrepository/a", Area: "gitrepository", Status: Passed, Duration: time.Second},
		{Name: "gitrepository/b", Area: "gitrepository", Status: Failed, Message: "timed out\nsecond line", Duration: 2 * time.Second},
		{Name: "receiver/c", Area: "receiver", Status: Skipped, Message: "needs the Receiver endpoint"},
	}}
	var junit strings.Builder
	if err := r.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Time     string `xml:"time,attr"`
			Cases    []struct {
				Failure *struct {
					Message string `xml:"message,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(junit.String()), &parsed); err != nil {
		t.Fatalf("the JUnit output does not parse: %v\n%s", err, junit.String())
	}
	tests := []struct {
		suite                    string
		tests, failures, skipped int
		time                     string
	}{
		{"ga/gitrepository", 2, 1, 0, "3.000"},
		{"ga/receiver", 1, 0, 1, "0.000"},
	}
	if len(parsed.Suites) != len(tests) {
		t.Fatalf("got %d suites, want %d", len(parsed.Suites), len(tests))
	}
	for i, tt := range tests {
		s := parsed.Suites[i]
		if s.Name != tt.suite || s.Tests != tt.tests || s.Failures != tt.failures || s.Skipped != tt.skipped || s.Time != tt.time {
			t.Errorf("suite %d = %+v, want %+v", i, s, tt)
		}
	}
	if f := parsed.Suites[0].Cases[1].Failure; f == nil || f.Message != "timed out" || f.Body != "timed out\nsecond line" {
		t.Errorf("failure = %+v, want the first line as message and the whole text as body", f)
	}

	var sum strings.Builder
	if err := r.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL gitrepository/b\n    timed out\n    second line", "SKIP receiver/c", "3 cases, 1 passed, 1 failed, 1 skipped"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

func TestCasesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	cases := Cases()
	if len(cases) < 60 {
		t.Errorf("%d cases, the suite promises at least 60", len(cases))
	}
	for _, c := range cases {
		if seen[c.Name] {
			t.Errorf("case %s is listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Doc == "" || c.run == nil || !strings.Contains(c.Name, "/") {
			t.Errorf("case %q needs an area/name, a Doc and a body", c.Name)
		}
	}
}
