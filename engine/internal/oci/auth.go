package oci

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// DefaultKeychain reads the docker config file ($DOCKER_CONFIG/config.json
// or ~/.docker/config.json), as docker login writes it.
var DefaultKeychain = authn.DefaultKeychain

// dockerConfig is the part of a .dockerconfigjson that holds credentials.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// configKeychain answers from a parsed .dockerconfigjson.
type configKeychain map[string]authn.AuthConfig

// KeychainFromDockerConfig parses the content of a
// kubernetes.io/dockerconfigjson Secret (its .dockerconfigjson key).
// Errors never quote the content.
func KeychainFromDockerConfig(b []byte) (authn.Keychain, error) {
	var c dockerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode docker config: invalid JSON")
	}
	kc := configKeychain{}
	for host, a := range c.Auths {
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("decode docker config: auth for %s is not base64", host)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("decode docker config: auth for %s is not user:password", host)
			}
			ac.Username, ac.Password = user, pass
		}
		kc[normalizeHost(host)] = ac
	}
	return kc, nil
}

// normalizeHost turns "https://index.docker.io/v1/" and friends into the
// registry host name that go-containerregistry asks for.
func normalizeHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	if h == "docker.io" || h == "registry-1.docker.io" {
		return "index.docker.io"
	}
	return h
}

func (k configKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if ac, ok := k[normalizeHost(r.RegistryStr())]; ok {
		return authn.FromConfig(ac), nil
	}
	return authn.Anonymous, nil
}
