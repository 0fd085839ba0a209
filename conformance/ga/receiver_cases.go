package ga

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// webhookPath is the path Flux documents for a Receiver:
// /hook/ + hex(sha256(token + name + namespace)).
func webhookPath(token, name, ns string) string {
	sum := sha256.Sum256([]byte(token + name + ns))
	return notificationv1.ReceiverWebhookPath + hex.EncodeToString(sum[:])
}

func sign(h func() hash.Hash, key, body []byte) string {
	m := hmac.New(h, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// rcvFixture is a namespace with a Ready GitRepository and a Receiver
// that targets it.
type rcvFixture struct {
	ns    string
	token string
	src   *sourcev1.GitRepository
	rcv   *notificationv1.Receiver
}

// ReceiverFor creates a token Secret and a Receiver of typ for resources
// (the fixture's GitRepository when none), and waits for it to be Ready.
func (t *T) ReceiverFor(typ string, events []string, resources ...notificationv1.ReceiverResource) *rcvFixture {
	f := t.Source(oneFile)
	rf := &rcvFixture{ns: f.ns, token: "tok-" + f.ns, src: f.src}
	t.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "token"}, StringData: map[string]string{"token": rf.token}})
	if len(resources) == 0 {
		resources = []notificationv1.ReceiverResource{res(notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: "src"})}
	}
	rf.rcv = &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "hook"},
		Spec: notificationv1.ReceiverSpec{Type: typ, Events: events, Resources: resources,
			Interval: &metav1.Duration{Duration: time.Hour}, SecretRef: &meta.LocalObjectReference{Name: "token"}}}
	t.Create(rf.rcv)
	t.WaitReady(rf.rcv, metav1.ConditionTrue, func() (bool, string) {
		return rf.rcv.Status.WebhookPath != "", "no status.webhookPath"
	})
	return rf
}

// Post sends body to the Receiver's webhook with headers and returns the
// HTTP status.
func (t *T) Post(path string, body []byte, headers map[string]string) int {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodPost, strings.TrimSuffix(t.s.opts.ReceiverURL, "/")+path, bytes.NewReader(body))
	t.Check(err, "build the webhook request")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	t.Check(err, "POST to the webhook")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// PostServed is Post for a call that must be accepted: while the answer is
// 404 it tries again for a few seconds. A controller serves a Receiver's
// path from its informer cache, which may learn of the Receiver a moment
// after the API server reports it Ready; a webhook sender configured after
// that moment never sees the gap.
func (t *T) PostServed(path string, body []byte, headers map[string]string) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		code := t.Post(path, body, headers)
		if code != http.StatusNotFound || time.Now().After(deadline) {
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ExpectTriggered waits for o to carry the requestedAt annotation.
func (t *T) ExpectTriggered(o client.Object) string {
	var v string
	t.Eventually(wait, fmt.Sprintf("%T %s to be annotated %s", o, o.GetName(), meta.ReconcileRequestAnnotation), func() (bool, string) {
		t.Get(o)
		v = o.GetAnnotations()[meta.ReconcileRequestAnnotation]
		return v != "", fmt.Sprintf("annotations %v", o.GetAnnotations())
	})
	return v
}

// ExpectNotTriggered checks that o does not get the requestedAt annotation.
func (t *T) ExpectNotTriggered(o client.Object) {
	t.Consistently(2*time.Second, fmt.Sprintf("%T %s not to be annotated", o, o.GetName()), func() (bool, string) {
		t.Get(o)
		v := o.GetAnnotations()[meta.ReconcileRequestAnnotation]
		return v == "", "requestedAt=" + v
	})
}

var (
	payload   = []byte(`{"ref":"refs/heads/main"}`)
	nexusBody = []byte(`{"action":"CREATED","repositoryName":"conformance","timestamp":"2026-01-01T00:00:00.000+0000"}`)
)

// What a webhook call must do.
const (
	accept  = iota // 200 and a trigger
	reject         // a 4xx status and no trigger
	ignored        // no trigger, whatever the status
)

// hookCase posts the request built by req to a Receiver of typ and checks
// the outcome want.
func hookCase(name, doc, typ string, events []string, want int, req func(token string) map[string]string) Case {
	return bodyHookCase(name, doc, typ, events, want, payload, func(token string, _ []byte) map[string]string { return req(token) })
}

// bodyHookCase is hookCase with a request body of the provider's own shape.
func bodyHookCase(name, doc, typ string, events []string, want int, body []byte, req func(token string, body []byte) map[string]string) Case {
	return Case{Name: "receiver/" + name, Doc: doc, NeedsReceiver: true, run: func(t *T) {
		rf := t.ReceiverFor(typ, events)
		post := t.Post
		if want == accept {
			post = t.PostServed
		}
		code := post(rf.rcv.Status.WebhookPath, body, req(rf.token, body))
		if want == ignored {
			t.ExpectNotTriggered(rf.src)
			return
		}
		if want == reject {
			if code < 400 || code > 499 {
				t.Fatalf("POST answered %d, want a 4xx rejection", code)
			}
			t.ExpectNotTriggered(rf.src)
			return
		}
		if code != http.StatusOK {
			t.Fatalf("POST answered %d, want 200", code)
		}
		t.ExpectTriggered(rf.src)
	}}
}

func receiverCases() []Case {
	hmacSig := func(h func() hash.Hash, prefix string) func(string) map[string]string {
		return func(tok string) map[string]string {
			return map[string]string{"X-Signature": prefix + "=" + sign(h, []byte(tok), payload)}
		}
	}
	github := func(event string, good bool) func(string) map[string]string {
		return func(tok string) map[string]string {
			if !good {
				tok = "wrong"
			}
			return map[string]string{"X-GitHub-Event": event, "X-Hub-Signature-256": "sha256=" + sign(sha256.New, []byte(tok), payload)}
		}
	}
	gitlab := func(event string, good bool) func(string) map[string]string {
		return func(tok string) map[string]string {
			if !good {
				tok = "wrong"
			}
			return map[string]string{"X-Gitlab-Event": event, "X-Gitlab-Token": tok}
		}
	}
	return []Case{
		{Name: "receiver/webhook-path", Doc: "status.webhookPath is /hook/ + hex(sha256(token + name + namespace)) and the Receiver is Ready", run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil)
			if want := webhookPath(rf.token, "hook", rf.ns); rf.rcv.Status.WebhookPath != want {
				t.Fatalf("status.webhookPath %q, want %q", rf.rcv.Status.WebhookPath, want)
			}
		}},
		{Name: "receiver/webhook-path-token-change", Doc: "a new token in the Secret gives a new webhook path on the next reconciliation", run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil)
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: rf.ns, Name: "token"}}
			t.Update(s, func() { s.Data = map[string][]byte{"token": []byte("rotated")} })
			t.RequestReconcile(rf.rcv)
			want := webhookPath("rotated", "hook", rf.ns)
			t.Eventually(wait, "the webhook path of the new token", func() (bool, string) {
				t.Get(rf.rcv)
				return rf.rcv.Status.WebhookPath == want, "status.webhookPath " + rf.rcv.Status.WebhookPath
			})
		}},
		{Name: "receiver/missing-secret", Doc: "a Receiver whose token Secret does not exist is Ready=False", run: func(t *T) {
			ns := t.Namespace()
			rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
				Spec: notificationv1.ReceiverSpec{Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "missing"},
					Resources: []notificationv1.ReceiverResource{res(notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: "src"})}}}
			t.Create(rcv)
			t.WaitReady(rcv, metav1.ConditionFalse)
		}},
		{Name: "receiver/empty-token", Doc: "Weir refuses a Secret with an empty token (Ready=False); Flux accepts it", WeirOnly: true, run: func(t *T) {
			ns := t.Namespace()
			t.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "token"}, Data: map[string][]byte{"token": {}}})
			rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
				Spec: notificationv1.ReceiverSpec{Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "token"},
					Resources: []notificationv1.ReceiverResource{res(notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: "src"})}}}
			t.Create(rcv)
			t.WaitReady(rcv, metav1.ConditionFalse)
		}},
		{Name: "receiver/trigger", Doc: "a generic webhook call sets requestedAt on the target, and the target handles it", NeedsReceiver: true, run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil)
			if code := t.PostServed(rf.rcv.Status.WebhookPath, payload, nil); code != http.StatusOK {
				t.Fatalf("POST answered %d, want 200", code)
			}
			v := t.ExpectTriggered(rf.src)
			t.Eventually(wait, "the GitRepository to handle the request", func() (bool, string) {
				t.Get(rf.src)
				return rf.src.Status.LastHandledReconcileAt == v, "lastHandledReconcileAt " + rf.src.Status.LastHandledReconcileAt
			})
		}},
		{Name: "receiver/unknown-path", Doc: "a POST to a path no Receiver owns is answered 404", NeedsReceiver: true, run: func(t *T) {
			if code := t.Post(webhookPath("nobody", "none", "nowhere"), payload, nil); code != http.StatusNotFound {
				t.Fatalf("POST answered %d, want 404", code)
			}
		}},
		{Name: "receiver/kustomization-target", Doc: "a Receiver can target a Kustomization (named with its apiVersion, which Flux requires for kinds other than sources)", NeedsReceiver: true, run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil, res(notificationv1.CrossNamespaceObjectReference{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind, Name: "app"}))
			ks := t.Kustomization(rf.ns, "app", "src", "./deploy", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = rf.ns })
			if code := t.PostServed(rf.rcv.Status.WebhookPath, payload, nil); code != http.StatusOK {
				t.Fatalf("POST answered %d, want 200", code)
			}
			t.ExpectTriggered(ks)
		}},
		{Name: "receiver/match-labels", Doc: "a resource named * with matchLabels triggers exactly the labelled objects", NeedsReceiver: true, run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil, res(notificationv1.CrossNamespaceObjectReference{Kind: sourcev1.GitRepositoryKind, Name: "*", MatchLabels: map[string]string{"hook": "yes"}}))
			picked := t.GitRepository(rf.ns, "picked", rf.src.Spec.URL, func(g *sourcev1.GitRepository) { g.Labels = map[string]string{"hook": "yes"} })
			if code := t.PostServed(rf.rcv.Status.WebhookPath, payload, nil); code != http.StatusOK {
				t.Fatalf("POST answered %d, want 200", code)
			}
			t.ExpectTriggered(picked)
			t.ExpectNotTriggered(rf.src)
		}},
		{Name: "receiver/suspended", Doc: "a suspended Receiver triggers nothing", NeedsReceiver: true, run: func(t *T) {
			rf := t.ReceiverFor(notificationv1.GenericReceiver, nil)
			t.Update(rf.rcv, func() { rf.rcv.Spec.Suspend = true })
			time.Sleep(2 * time.Second) // the webhook server reads Receivers from its informer cache
			if code := t.Post(rf.rcv.Status.WebhookPath, payload, nil); code == http.StatusOK {
				t.Fatalf("POST to a suspended Receiver answered 200")
			}
			t.ExpectNotTriggered(rf.src)
		}},
		hookCase("generic-hmac-sha256", "generic-hmac accepts X-Signature: sha256=<hmac of the body keyed by the token>",
			notificationv1.GenericHMACReceiver, nil, accept, hmacSig(sha256.New, "sha256")),
		hookCase("generic-hmac-sha1", "generic-hmac accepts X-Signature: sha1=<hmac>", notificationv1.GenericHMACReceiver, nil, accept, hmacSig(sha1.New, "sha1")),
		hookCase("generic-hmac-invalid", "generic-hmac rejects a wrong signature with a 4xx and triggers nothing",
			notificationv1.GenericHMACReceiver, nil, reject, func(string) map[string]string {
				return map[string]string{"X-Signature": "sha256=" + sign(sha256.New, []byte("wrong"), payload)}
			}),
		hookCase("generic-hmac-missing", "generic-hmac rejects a request without X-Signature", notificationv1.GenericHMACReceiver, nil, reject,
			func(string) map[string]string { return nil }),
		hookCase("github", "github accepts X-Hub-Signature-256 signed with the token", notificationv1.GitHubReceiver, nil, accept, github("push", true)),
		hookCase("github-events", "github accepts an event listed in spec.events", notificationv1.GitHubReceiver, []string{"push"}, accept, github("push", true)),
		hookCase("github-bad-signature", "github rejects a wrong signature", notificationv1.GitHubReceiver, nil, reject, github("push", false)),
		hookCase("github-event-not-allowed", "github triggers nothing for an event not in spec.events", notificationv1.GitHubReceiver, []string{"push"}, ignored, github("issues", true)),
		hookCase("gitlab", "gitlab accepts X-Gitlab-Token equal to the token", notificationv1.GitLabReceiver, nil, accept, gitlab("Push Hook", true)),
		hookCase("gitlab-bad-token", "gitlab rejects a wrong X-Gitlab-Token", notificationv1.GitLabReceiver, nil, reject, gitlab("Push Hook", false)),
		hookCase("gitlab-event-not-allowed", "gitlab triggers nothing for an event not in spec.events", notificationv1.GitLabReceiver, []string{"Push Hook"}, ignored, gitlab("Tag Push Hook", true)),
		hookCase("bitbucket", "bitbucket (server) accepts X-Hub-Signature: sha256=<hmac> with X-Event-Key", notificationv1.BitbucketReceiver, []string{"repo:refs_changed"}, accept,
			func(tok string) map[string]string {
				return map[string]string{"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": "sha256=" + sign(sha256.New, []byte(tok), payload)}
			}),
		hookCase("harbor", "harbor accepts an Authorization header equal to the token", notificationv1.HarborReceiver, nil, accept,
			func(tok string) map[string]string { return map[string]string{"Authorization": tok} }),
		bodyHookCase("nexus", "nexus accepts X-Nexus-Webhook-Signature: the hex HMAC-SHA1 of the body keyed by the token", notificationv1.NexusReceiver, nil, accept, nexusBody,
			func(tok string, body []byte) map[string]string {
				return map[string]string{"X-Nexus-Webhook-Signature": sign(sha1.New, []byte(tok), body)}
			}),
		bodyHookCase("nexus-bad-signature", "nexus rejects a wrong signature", notificationv1.NexusReceiver, nil, reject, nexusBody,
			func(_ string, body []byte) map[string]string {
				return map[string]string{"X-Nexus-Webhook-Signature": sign(sha1.New, []byte("wrong"), body)}
			}),
		bodyHookCase("dockerhub", "dockerhub accepts a Docker Hub push payload", notificationv1.DockerHubReceiver, nil, accept,
			[]byte(`{"push_data":{"tag":"1.0"},"repository":{"repo_url":"https://hub.docker.com/r/conformance/app","repo_name":"conformance/app"}}`),
			func(string, []byte) map[string]string { return nil }),
		bodyHookCase("quay", "quay accepts a Quay repository push payload", notificationv1.QuayReceiver, nil, accept,
			[]byte(`{"docker_url":"quay.io/conformance/app","updated_tags":["1.0"]}`),
			func(string, []byte) map[string]string { return nil }),
		hookCase("harbor-wrong", "harbor rejects a wrong Authorization header", notificationv1.HarborReceiver, nil, reject,
			func(string) map[string]string { return map[string]string{"Authorization": "wrong"} }),
	}
}

func res(r notificationv1.CrossNamespaceObjectReference) notificationv1.ReceiverResource {
	return notificationv1.ReceiverResource{CrossNamespaceObjectReference: r}
}
