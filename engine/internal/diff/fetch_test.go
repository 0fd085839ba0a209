package diff

import "testing"

func TestServiceProxyURL(t *testing.T) {
	const api = "https://api.example:6443/"
	tests := []struct {
		url, want string
	}{
		{"http://weir-artifacts.weir-system.svc/gitrepository/a/b/x.tar.gz",
			"https://api.example:6443/api/v1/namespaces/weir-system/services/weir-artifacts:80/proxy/gitrepository/a/b/x.tar.gz"},
		{"http://source-controller.flux-system.svc.cluster.local./gitrepository/a/b/x.tar.gz", ""},
		{"http://source-controller.flux-system.svc.cluster.local:9090/g/a.tar.gz?x=1",
			"https://api.example:6443/api/v1/namespaces/flux-system/services/source-controller:9090/proxy/g/a.tar.gz?x=1"},
		{"http://127.0.0.1:9090/g/a.tar.gz", ""},
		{"http://artifacts.example.com/g/a.tar.gz", ""},
		{"https://weir-artifacts.weir-system.svc/g/a.tar.gz", ""},
	}
	for _, tt := range tests {
		got, ok := serviceProxyURL(api, tt.url)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("serviceProxyURL(%q) = %q, %v; want %q", tt.url, got, ok, tt.want)
		}
	}
}
