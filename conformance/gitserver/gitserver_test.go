package gitserver

import (
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

func TestServeCloneAndAuth(t *testing.T) {
	s, err := Start(Options{Root: t.TempDir(), AdvertiseHost: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := url.Parse(s.URL("app"))
	if err != nil || u.Hostname() != "localhost" || u.Port() == "" || !strings.HasSuffix(s.Addr(), ":"+u.Port()) {
		t.Fatalf("URL %s does not advertise localhost with the listen port of %s", s.URL("app"), s.Addr())
	}
	r, err := s.NewRepo("app", "")
	if err != nil {
		t.Fatal(err)
	}
	sha, err := r.Commit("first", map[string]string{"a/b.yaml": "x: 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag("v1"); err != nil {
		t.Fatal(err)
	}
	lsRemote := func(remote string) (string, error) {
		out, err := exec.Command("git", "ls-remote", remote).CombinedOutput()
		return string(out), err
	}
	tests := []struct {
		name   string
		auth   bool
		remote string
		ok     bool
	}{
		{"anonymous", false, s.URL("app"), true},
		{"auth required, none given", true, s.URL("app"), false},
		{"auth required, given", true, strings.Replace(s.URL("app"), "http://", "http://git:pw@", 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.auth {
				s.RequireBasicAuth("app", "git", "pw")
			}
			t.Setenv("GIT_TERMINAL_PROMPT", "0")
			out, err := lsRemote(tt.remote)
			if tt.ok != (err == nil) {
				t.Fatalf("ls-remote: err %v, want ok=%v\n%s", err, tt.ok, out)
			}
			if tt.ok && (!strings.Contains(out, sha+"\trefs/heads/main") || !strings.Contains(out, sha+"\trefs/tags/v1")) {
				t.Fatalf("ls-remote does not show main and v1 at %s:\n%s", sha, out)
			}
		})
	}
}
