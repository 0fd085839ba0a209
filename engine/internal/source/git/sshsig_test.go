package git

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// sshKeygenSign signs msg in namespace with ssh-keygen, as git does for
// gpg.format=ssh, and returns the armored signature.
func sshKeygenSign(t *testing.T, key crypto.PrivateKey, namespace string, msg []byte) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Fatalf("ssh-keygen (openssh-client) is needed for this test: %v", err)
	}
	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, msgFile := filepath.Join(dir, "key"), filepath.Join(dir, "msg")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(msgFile, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", namespace, "-f", keyFile, msgFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(msgFile + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return string(sig)
}

func TestVerifySSHSignature(t *testing.T) {
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := func(k crypto.PrivateKey) ssh.PublicKey {
		s, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return s.PublicKey()
	}
	msg := []byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nsigned\n")
	for name, key := range map[string]crypto.PrivateKey{"ed25519": edKey, "ecdsa": ecKey, "rsa": rsaKey} {
		t.Run(name, func(t *testing.T) {
			sig := sshKeygenSign(t, key, "git", msg)
			trusted := []ssh.PublicKey{pub(otherKey), pub(key)}
			fp, err := verifySSH(sig, msg, trusted)
			if err != nil || fp != ssh.FingerprintSHA256(pub(key)) {
				t.Fatalf("verifySSH = %q, %v; want the key's fingerprint", fp, err)
			}
			if _, err := verifySSH(sig, append([]byte("x"), msg...), trusted); err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("tampered payload: err = %v", err)
			}
			if _, err := verifySSH(sig, msg, []ssh.PublicKey{pub(otherKey)}); err == nil || !strings.Contains(err.Error(), "not among the trusted SSH keys") {
				t.Fatalf("untrusted key: err = %v", err)
			}
		})
	}
	t.Run("namespace", func(t *testing.T) {
		sig := sshKeygenSign(t, edKey, "file", msg)
		if _, err := verifySSH(sig, msg, []ssh.PublicKey{pub(edKey)}); err == nil || !strings.Contains(err.Error(), `namespace "file"`) {
			t.Fatalf("wrong namespace: err = %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := verifySSH("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n", msg, nil); err == nil {
			t.Fatal("garbage signature verified")
		}
	})
}
