package git

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

// sshSigNamespace is the namespace git signs commits and tags in.
const sshSigNamespace = "git"

// sshSignature is the body of an armored "SSH SIGNATURE" block, laid out as
// OpenSSH's PROTOCOL.sshsig describes (after the 6-byte "SSHSIG" magic).
type sshSignature struct {
	Version       uint32
	PublicKey     []byte
	Namespace     string
	Reserved      []byte
	HashAlgorithm string
	Signature     []byte
}

// sshSignedData is what the key actually signs: the magic, then these
// fields, with the message replaced by its hash.
type sshSignedData struct {
	Namespace     string
	Reserved      []byte
	HashAlgorithm string
	Hash          []byte
}

const sshSigMagic = "SSHSIG"

// parseSSHSignature decodes an armored SSH signature as git stores it.
func parseSSHSignature(armored string) (*sshSignature, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(armored)))
	if block == nil || block.Type != "SSH SIGNATURE" {
		return nil, errors.New("not an armored SSH signature")
	}
	if !bytes.HasPrefix(block.Bytes, []byte(sshSigMagic)) {
		return nil, errors.New("SSH signature lacks the SSHSIG magic")
	}
	var sig sshSignature
	if err := ssh.Unmarshal(block.Bytes[len(sshSigMagic):], &sig); err != nil {
		return nil, fmt.Errorf("decoding SSH signature: %w", err)
	}
	if sig.Version != 1 {
		return nil, fmt.Errorf("unsupported SSH signature version %d", sig.Version)
	}
	return &sig, nil
}

// verifySSH checks an SSH signature over payload against trusted keys. It
// returns the SHA256 fingerprint of the key that made it.
func verifySSH(armored string, payload []byte, trusted []ssh.PublicKey) (string, error) {
	sig, err := parseSSHSignature(armored)
	if err != nil {
		return "", err
	}
	if sig.Namespace != sshSigNamespace {
		return "", fmt.Errorf("SSH signature is for namespace %q, not %q", sig.Namespace, sshSigNamespace)
	}
	var h hash.Hash
	switch sig.HashAlgorithm {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", fmt.Errorf("unsupported SSH signature hash algorithm %q", sig.HashAlgorithm)
	}
	h.Write(payload)
	signed := append([]byte(sshSigMagic), ssh.Marshal(sshSignedData{
		Namespace: sig.Namespace, Reserved: sig.Reserved, HashAlgorithm: sig.HashAlgorithm, Hash: h.Sum(nil),
	})...)
	var s ssh.Signature
	if err := ssh.Unmarshal(sig.Signature, &s); err != nil {
		return "", fmt.Errorf("decoding SSH signature blob: %w", err)
	}
	for _, k := range trusted {
		if !bytes.Equal(k.Marshal(), sig.PublicKey) {
			continue
		}
		if err := k.Verify(signed, &s); err != nil {
			return "", fmt.Errorf("SSH signature by key '%s' does not match: %w", ssh.FingerprintSHA256(k), err)
		}
		return ssh.FingerprintSHA256(k), nil
	}
	signer := "an unknown key"
	if pk, err := ssh.ParsePublicKey(sig.PublicKey); err == nil {
		signer = "key '" + ssh.FingerprintSHA256(pk) + "'"
	}
	return "", fmt.Errorf("signed by %s, which is not among the trusted SSH keys", signer)
}

// parseAuthorizedKeys reads public keys in authorized_keys format, one a
// line; blank lines and comments are skipped.
func parseAuthorizedKeys(data []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("parsing SSH public key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
