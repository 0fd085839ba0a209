package testenv

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/crypto/ssh"
)

// PGPKey is an OpenPGP key pair made for one test.
type PGPKey struct {
	Entity *openpgp.Entity
	// Public is the armored public key ring, as `gpg --export --armor`
	// writes it.
	Public string
	// ID is the primary key's 16-digit key id.
	ID string
}

// NewPGPKey generates an Ed25519 OpenPGP key for name.
func NewPGPKey(t testing.TB, name string) *PGPKey {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@weir.dev", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatalf("generating a PGP key: %v", err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &PGPKey{Entity: e, Public: buf.String(), ID: e.PrimaryKey.KeyIdString()}
}

// SSHKey is an Ed25519 SSH key pair made for one test.
type SSHKey struct {
	Signer ssh.Signer
	// PrivateFile is the OpenSSH private key, written with mode 0600.
	PrivateFile string
	// Private is the content of PrivateFile.
	Private []byte
	// Authorized is the public key in authorized_keys format.
	Authorized string
	// Fingerprint is the SHA256 fingerprint of the public key.
	Fingerprint string
}

// NewSSHKey generates an Ed25519 SSH key.
func NewSSHKey(t testing.TB) *SSHKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(block)
	file := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return &SSHKey{Signer: signer, PrivateFile: file, Private: data,
		Authorized:  string(ssh.MarshalAuthorizedKey(signer.PublicKey())),
		Fingerprint: ssh.FingerprintSHA256(signer.PublicKey())}
}

func testSignature() *object.Signature {
	return &object.Signature{Name: "Weir Test", Email: "test@weir.dev", When: time.Now()}
}

// SignedCommit writes files, commits them with an OpenPGP signature made by
// go-git (no gpg binary is needed) and pushes the branch. It returns the
// commit's SHA-1.
func (r *Repo) SignedCommit(msg string, files map[string]string, key *PGPKey) string {
	r.t.Helper()
	r.write(files)
	git(r.t, r.Dir, "add", "-A")
	repo, err := gogit.PlainOpen(r.Dir)
	if err != nil {
		r.t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := wt.Commit(msg, &gogit.CommitOptions{AllowEmptyCommits: true, SignKey: key.Entity,
		Author: testSignature(), Committer: testSignature()}); err != nil {
		r.t.Fatalf("signed commit: %v", err)
	}
	return r.pushHead()
}

// SignedTag creates an annotated tag of HEAD signed by key and pushes it.
func (r *Repo) SignedTag(name string, key *PGPKey) {
	r.t.Helper()
	repo, err := gogit.PlainOpen(r.Dir)
	if err != nil {
		r.t.Fatal(err)
	}
	head, err := repo.Head()
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := repo.CreateTag(name, head.Hash(), &gogit.CreateTagOptions{Message: name, Tagger: testSignature(), SignKey: key.Entity}); err != nil {
		r.t.Fatalf("signed tag: %v", err)
	}
	git(r.t, r.Dir, "push", "--quiet", "origin", name)
}

// SSHSignedCommit writes files and commits them with git's own SSH
// signing (gpg.format=ssh, which runs ssh-keygen -Y sign), then pushes.
func (r *Repo) SSHSignedCommit(msg string, files map[string]string, key *SSHKey) string {
	r.t.Helper()
	r.write(files)
	git(r.t, r.Dir, "add", "-A")
	git(r.t, r.Dir, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key.PrivateFile,
		"commit", "--quiet", "--allow-empty", "-S", "-m", msg)
	return r.pushHead()
}

// SSHSignedTag creates an annotated tag of HEAD signed with git's SSH
// signing and pushes it.
func (r *Repo) SSHSignedTag(name string, key *SSHKey) {
	r.t.Helper()
	git(r.t, r.Dir, "-c", "gpg.format=ssh", "-c", "user.signingkey="+key.PrivateFile, "tag", "-s", name, "-m", name)
	git(r.t, r.Dir, "push", "--quiet", "origin", name)
}
