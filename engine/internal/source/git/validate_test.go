package git

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url, err string // err empty: valid
	}{
		{"https://github.com/org/repo", ""},
		{"http://127.0.0.1:8080/repo.git", ""},
		{"ssh://git@github.com/org/repo", ""},
		{"http://user:secret@host/repo", ""},
		{"-uhttp://x", "must not start with '-'"},
		{"--upload-pack=touch /tmp/pwned", "must not start with '-'"},
		{" -x", "must not start with '-'"},
		{"file:///etc", "is not one of http, https, ssh"},
		{"/srv/git/repo", "is not one of http, https, ssh"},
		{"git@github.com:org/repo", "invalid url"},
		{"ext::sh -c touch% /tmp/pwned", "is not one of http, https, ssh"},
		{"https:///repo", "has no host"},
		{"http://[::1", "invalid url"},
	}
	for _, tt := range tests {
		err := CheckURL(tt.url)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want nil", tt.url, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("CheckURL(%q) = %v, want an error with %q", tt.url, err, tt.err)
		}
	}
}

func TestCheckSparseDirs(t *testing.T) {
	tests := []struct {
		dirs []string
		ok   bool
	}{
		{[]string{"apps", "./infra/", "/", "."}, true},
		{[]string{"a/../b"}, true},
		{[]string{".."}, false},
		{[]string{"apps", "../other"}, false},
		{[]string{"a/../../b"}, false},
		{[]string{"/../etc"}, false},
	}
	for _, tt := range tests {
		if err := CheckSparseDirs(tt.dirs); (err == nil) != tt.ok {
			t.Errorf("CheckSparseDirs(%q) = %v, want ok=%v", tt.dirs, err, tt.ok)
		}
	}
}
