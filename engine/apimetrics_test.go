package engine

import (
	"net/http"
	"net/url"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, url, verb, resource string
	}{
		{"GET", "/api/v1/namespaces/a/configmaps/b", "get", "configmaps"},
		{"GET", "/api/v1/namespaces/a/configmaps", "list", "configmaps"},
		{"GET", "/api/v1/configmaps?watch=true", "watch", "configmaps"},
		{"GET", "/api/v1/namespaces/a", "get", "namespaces"},
		{"GET", "/api/v1/namespaces", "list", "namespaces"},
		{"PATCH", "/apis/apps/v1/namespaces/a/deployments/d?dryRun=All&fieldManager=x", "patch-dryrun", "deployments.apps"},
		{"PATCH", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/k/status", "patch", "kustomizations.kustomize.toolkit.fluxcd.io/status"},
		{"POST", "/api/v1/namespaces/a/events", "create", "events"},
		{"POST", "/api/v1/namespaces/a/serviceaccounts/s/token", "create", "serviceaccounts/token"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", "update", "leases.coordination.k8s.io"},
		{"DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/r", "delete", "clusterroles.rbac.authorization.k8s.io"},
		{"DELETE", "/api/v1/namespaces/a/pods", "deletecollection", "pods"},
		{"GET", "/version", "get", "other"},
		{"GET", "/apis", "get", "other"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		verb, res := classify(&http.Request{Method: tc.method, URL: u})
		if verb != tc.verb || res != tc.resource {
			t.Errorf("%s %s: got %s %s, want %s %s", tc.method, tc.url, verb, res, tc.verb, tc.resource)
		}
	}
}
