package git

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// CheckURL accepts http, https and ssh URLs with a host, as the
// GitRepository CRD's pattern does; anything else (a local path, a file://
// URL, an argument starting with "-") is refused before any git code sees
// it.
func CheckURL(raw string) error {
	if strings.HasPrefix(strings.TrimSpace(raw), "-") {
		return errors.New("url must not start with '-'")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid url: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "ssh":
	default:
		return fmt.Errorf("url scheme %q is not one of http, https, ssh", u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("url %q has no host", redact(raw))
	}
	return nil
}

// CheckSparseDirs refuses sparse checkout directories that climb out of
// the repository's root ("..", "a/../../b").
func CheckSparseDirs(dirs []string) error {
	for _, d := range dirs {
		c := path.Clean(strings.TrimPrefix(strings.TrimSpace(d), "/"))
		if c == ".." || strings.HasPrefix(c, "../") {
			return fmt.Errorf("sparse checkout dir '%s' is outside the repository", d)
		}
	}
	return nil
}
