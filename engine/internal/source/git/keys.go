package git

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// SSHKeySuffix marks the Secret entries that hold SSH public keys (in
// authorized_keys format); every other entry is an armored OpenPGP key ring.
const SSHKeySuffix = ".sshpub"

const (
	pgpArmor = "-----BEGIN PGP SIGNATURE-----"
	sshArmor = "-----BEGIN SSH SIGNATURE-----"
)

// Keys are trusted public keys for signature verification.
type Keys struct {
	pgp openpgp.EntityList
	ssh []ssh.PublicKey
	// pgpErr is the first key ring that failed to parse; it is reported
	// only when no ring parsed at all.
	pgpErr error
}

// ParseKeys reads the keys of a Secret's data: entries ending in
// SSHKeySuffix hold SSH public keys, every other entry an armored OpenPGP
// key ring.
func ParseKeys(data map[string][]byte) (Keys, error) {
	var k Keys
	for name, v := range data {
		if strings.HasSuffix(name, SSHKeySuffix) {
			keys, err := parseAuthorizedKeys(v)
			if err != nil {
				return k, fmt.Errorf("invalid '%s': %w", name, err)
			}
			k.ssh = append(k.ssh, keys...)
			continue
		}
		ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(v))
		if err != nil {
			if k.pgpErr == nil {
				k.pgpErr = fmt.Errorf("unable to read armored key ring '%s': %w", name, err)
			}
			continue
		}
		k.pgp = append(k.pgp, ring...)
	}
	return k, nil
}

// Verify checks one commit or tag signature and returns the id of the key
// that made it: the OpenPGP key id, or the SSH key's SHA256 fingerprint.
func (k Keys) Verify(o SignedObject) (string, error) {
	sig := strings.TrimSpace(o.Signature)
	switch {
	case sig == "":
		return "", errors.New("object is not signed")
	case strings.HasPrefix(sig, pgpArmor):
		if len(k.pgp) == 0 {
			if k.pgpErr != nil {
				return "", k.pgpErr
			}
			return "", errors.New("unable to verify openpgp signature: the secret holds no PGP public keys")
		}
		signer, err := openpgp.CheckArmoredDetachedSignature(k.pgp, bytes.NewReader(o.Payload), strings.NewReader(sig), nil)
		if err != nil {
			return "", fmt.Errorf("unable to verify payload with any of the given key rings: %w", err)
		}
		return signer.PrimaryKey.KeyIdString(), nil
	case strings.HasPrefix(sig, sshArmor):
		if len(k.ssh) == 0 {
			return "", fmt.Errorf("unable to verify SSH signature: the secret holds no SSH public keys (entries ending in %s)", SSHKeySuffix)
		}
		return verifySSH(sig, o.Payload, k.ssh)
	default:
		return "", errors.New("unsupported signature format: only openpgp and ssh signatures can be verified")
	}
}
