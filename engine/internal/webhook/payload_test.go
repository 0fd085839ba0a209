package webhook

import (
	"bytes"
	"testing"
)

// The registry types are not signed: a changed value still triggers, a
// body that is not the event does not.

func TestDockerHub(t *testing.T) {
	body := fixture(t, "dockerhub-push.json")
	runHookCases(t, Target{Type: "dockerhub", Token: []byte("unused")}, []hookCase{
		{"push", body, nil, 200, true},
		{"one value changed", tamper(t, body), nil, 200, true},
		{"no push_data", []byte(`{"repository":{"repo_name":"example/podinfo"}}`), nil, 400, false},
		{"no repo_name", []byte(`{"push_data":{"tag":"6.6.2"},"repository":{"repo_url":"https://hub.docker.com/r/example/podinfo"}}`), nil, 400, false},
		{"push_data of the wrong type", []byte(`{"push_data":"6.6.2","repository":{"repo_name":"example/podinfo"}}`), nil, 400, false},
		{"not an object", bytes.Replace(body, []byte("{"), []byte("["), 1), nil, 400, false},
		{"empty body", nil, nil, 400, false},
	})
}

func TestQuay(t *testing.T) {
	body := fixture(t, "quay-push.json")
	runHookCases(t, Target{Type: "quay", Token: []byte("unused")}, []hookCase{
		{"push", body, nil, 200, true},
		{"one value changed", tamper(t, body), nil, 200, true},
		{"no updated_tags", []byte(`{"docker_url":"quay.io/example/podinfo"}`), nil, 400, false},
		{"updated_tags not a list", []byte(`{"docker_url":"quay.io/example/podinfo","updated_tags":"latest"}`), nil, 400, false},
		{"no docker_url", []byte(`{"updated_tags":["latest"]}`), nil, 400, false},
		{"null", []byte(`null`), nil, 400, false},
		{"trailing data", append(bytes.Clone(body), []byte(`{}`)...), nil, 400, false},
	})
}

func TestACR(t *testing.T) {
	body := fixture(t, "acr-push.json")
	runHookCases(t, Target{Type: "acr", Token: []byte("unused")}, []hookCase{
		{"push", body, nil, 200, true},
		{"ping", fixture(t, "acr-ping.json"), nil, 200, false},
		{"one value changed", tamper(t, body), nil, 200, true},
		{"no target repository", []byte(`{"action":"push","target":{"tag":"6.6.2"}}`), nil, 400, false},
		{"no action", []byte(`{"target":{"repository":"podinfo","tag":"6.6.2"}}`), nil, 400, false},
		{"not JSON", []byte(`action=push`), nil, 400, false},
	})
}

func TestCDEvents(t *testing.T) {
	body := fixture(t, "cdevents-change-merged.json")
	const merged = "dev.cdevents.change.merged.0.2.0"
	ce := func(typ string) map[string]string { return map[string]string{"Ce-Type": typ, "Ce-Specversion": "1.0"} }
	with := func(old, new string) []byte { return bytes.Replace(body, []byte(old), []byte(new), 1) }
	target := Target{Type: "cdevents", Token: []byte("unused"), Events: []string{merged}}
	runHookCases(t, target, []hookCase{
		{"listed event", body, ce(merged), 200, true},
		{"listed event, other case", body, ce("dev.cdevents.Change.Merged.0.2.0"), 200, true},
		{"event not listed", body, ce("dev.cdevents.change.abandoned.0.2.0"), 200, false},
		{"missing Ce-Type", body, nil, 200, false},
		{"custom event type", with(merged, "dev.cdeventsx.mytool-resource.created.0.1.0"), ce(merged), 200, true},
		{"not a CDEvents type", with(merged, "com.example.merged"), ce(merged), 400, false},
		{"no context id", with(`"id":"271069a8-fc18-44f1-b38f-9d70a1695819",`, ""), ce(merged), 400, false},
		{"timestamp not RFC 3339", with("2024-05-02T09:41:07.315384Z", "yesterday"), ce(merged), 400, false},
		{"no subject", []byte(`{"context":{"version":"0.4.1","id":"1","source":"/s","type":"` + merged + `","timestamp":"2024-05-02T09:41:07Z"}}`), ce(merged), 400, false},
		{"one byte changed, still an event", tamper(t, body), ce(merged), 200, true},
		{"one byte changed, not JSON", with(`{"context"`, `["context"`), ce(merged), 400, false},
	})
	t.Run("no events listed", func(t *testing.T) {
		runHookCases(t, Target{Type: "cdevents"}, []hookCase{
			{"any event", body, ce("dev.cdevents.change.abandoned.0.2.0"), 200, true},
		})
	})
}
