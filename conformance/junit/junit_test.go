package junit

import (
	"bytes"
	"encoding/xml"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, Suite{Name: "ga/kustomization", Cases: []Case{
		{Name: "apply", ClassName: "ga.kustomization", Duration: 1500 * time.Millisecond},
		{Name: "prune", ClassName: "ga.kustomization", Status: Failed, Duration: time.Second, Message: "timed out\nlast seen: x"},
		{Name: "receiver", ClassName: "ga.kustomization", Status: Skipped, Message: "needs --receiver-url"},
	}}, Suite{Name: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	var got xmlSuites
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not valid XML: %v\n%s", err, buf.String())
	}
	if len(got.Suites) != 2 {
		t.Fatalf("got %d suites", len(got.Suites))
	}
	s := got.Suites[0]
	if s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || s.Time != "2.500" {
		t.Fatalf("suite counts: %+v", s)
	}
	if f := s.Cases[1].Failure; f == nil || f.Message != "timed out" || f.Body != "timed out\nlast seen: x" {
		t.Fatalf("failure: %+v", f)
	}
	if s.Cases[0].Failure != nil || s.Cases[0].Skipped != nil || s.Cases[2].Skipped == nil {
		t.Fatalf("statuses: %+v", s.Cases)
	}
}
