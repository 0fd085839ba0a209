package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// The registries below do not sign their webhooks: the secret path is the
// credential, and the body is only checked to be the event it claims to be.

// verifyDockerHub accepts a Docker Hub push: the repository and its push data.
func verifyDockerHub(_ *http.Request, body []byte, _ *Target) (Verdict, error) {
	var p struct {
		PushData *struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
			RepoURL  string `json:"repo_url"`
		} `json:"repository"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return Verdict{}, fmt.Errorf("decoding the Docker Hub payload: %w", err)
	}
	if p.PushData == nil || p.Repository.RepoName == "" {
		return Verdict{}, errors.New("the Docker Hub payload has no push_data or repository.repo_name")
	}
	return Verdict{Trigger: true}, nil
}

// verifyQuay accepts a Quay repository push: the image and its updated tags.
func verifyQuay(_ *http.Request, body []byte, _ *Target) (Verdict, error) {
	var p struct {
		DockerURL   string   `json:"docker_url"`
		UpdatedTags []string `json:"updated_tags"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return Verdict{}, fmt.Errorf("decoding the Quay payload: %w", err)
	}
	if p.DockerURL == "" || p.UpdatedTags == nil {
		return Verdict{}, errors.New("the Quay payload has no docker_url or updated_tags")
	}
	return Verdict{Trigger: true}, nil
}

// verifyACR accepts an Azure Container Registry event: an action on a target
// repository. The "ping" the portal sends to test a webhook is answered
// without a reconcile.
func verifyACR(_ *http.Request, body []byte, _ *Target) (Verdict, error) {
	var p struct {
		Action string `json:"action"`
		Target struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"target"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return Verdict{}, fmt.Errorf("decoding the ACR payload: %w", err)
	}
	if p.Action == "ping" {
		return Verdict{Message: "pong"}, nil
	}
	if p.Action == "" || p.Target.Repository == "" {
		return Verdict{}, errors.New("the ACR payload has no action or target.repository")
	}
	return Verdict{Trigger: true}, nil
}

// cdEventType is a CDEvents type: dev.cdevents.<subject>.<predicate>.<version>,
// or dev.cdeventsx.<tool>-<subject>.<predicate>.<version> for a custom one.
var cdEventType = regexp.MustCompile(`^dev\.cdevents(\.[a-z]+|x\.[a-z0-9]+-[a-z]+)\.[a-z]+\.\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// verifyCDEvents checks that the body is a CDEvent (its context and subject)
// and filters on the CloudEvents type header, Ce-Type, against spec.events.
// The check is structural: the per-event JSON schemas are not applied.
func verifyCDEvents(r *http.Request, body []byte, t *Target) (Verdict, error) {
	var p struct {
		Context struct {
			Version   string `json:"version"`
			ID        string `json:"id"`
			Source    string `json:"source"`
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
		} `json:"context"`
		Subject struct {
			ID      string          `json:"id"`
			Content json.RawMessage `json:"content"`
		} `json:"subject"`
	}
	if err := decodeJSON(body, &p); err != nil {
		return Verdict{}, fmt.Errorf("decoding the CDEvent: %w", err)
	}
	c := p.Context
	switch {
	case c.Version == "" || c.ID == "" || c.Source == "":
		return Verdict{}, errors.New("the CDEvent context needs a version, an id and a source")
	case !cdEventType.MatchString(c.Type):
		return Verdict{}, fmt.Errorf("the CDEvent type %q is not a CDEvents type", c.Type)
	case p.Subject.ID == "" || !isJSONObject(p.Subject.Content):
		return Verdict{}, errors.New("the CDEvent subject needs an id and a content object")
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Timestamp); err != nil {
		return Verdict{}, errors.New("the CDEvent timestamp is not RFC 3339")
	}
	return filterEvent(t.Events, r.Header.Get("Ce-Type")), nil
}

// decodeJSON decodes body, which must be one JSON object, into v.
func decodeJSON(body []byte, v any) error {
	if !isJSONObject(body) {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(body, v)
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}
