package git

import (
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// CheckAuth reports whether the request's Secret data can make
// credentials for its URL, without talking to the remote.
func CheckAuth(req Request) error {
	_, err := authMethod(req)
	return err
}

// authMethod maps a Secret's data, with Flux's key names, to go-git auth.
func authMethod(req Request) (transport.AuthMethod, error) {
	d := req.Auth
	if len(d) == 0 {
		return nil, nil
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid url: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if tok := d["bearerToken"]; len(tok) > 0 {
			return &githttp.TokenAuth{Token: string(tok)}, nil
		}
		if user, pass := d["username"], d["password"]; len(user) > 0 || len(pass) > 0 {
			return &githttp.BasicAuth{Username: string(user), Password: string(pass)}, nil
		}
		return nil, nil
	case "ssh":
		user := u.User.Username()
		if user == "" {
			user = "git"
		}
		if len(d["identity"]) == 0 {
			return nil, errors.New("invalid secret: 'identity' is required for ssh")
		}
		keys, err := gitssh.NewPublicKeys(user, d["identity"], string(d["password"]))
		if err != nil {
			return nil, fmt.Errorf("invalid 'identity': %w", err)
		}
		cb, err := hostKeyCallback(d["known_hosts"])
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = cb
		return keys, nil
	default:
		return nil, fmt.Errorf("unsupported url scheme %q", u.Scheme)
	}
}

func hostKeyCallback(knownHosts []byte) (ssh.HostKeyCallback, error) {
	if len(knownHosts) == 0 {
		return nil, errors.New("invalid secret: 'known_hosts' is required for ssh")
	}
	f, err := os.CreateTemp("", "known_hosts-")
	if err != nil {
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(knownHosts); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing known_hosts: %w", err)
	}
	f.Close()
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("invalid 'known_hosts': %w", err)
	}
	return cb, nil
}

// redact drops credentials from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid url>"
	}
	u.User = nil
	return u.String()
}
