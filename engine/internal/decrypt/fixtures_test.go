package decrypt

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// ageKey is a freshly generated age identity and the Secret entry holding it.
type ageKey struct {
	recipient string
	secret    []byte // as age-keygen writes it
}

func newAgeKey(t testing.TB) ageKey {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	r := id.Recipient().String()
	return ageKey{
		recipient: r,
		secret:    fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n", time.Now().Format(time.RFC3339), r, id),
	}
}

// pgpKey is a freshly generated OpenPGP key: its armored private key (the
// Secret entry), its fingerprint, and a public key ring file the SOPS
// library encrypts with.
type pgpKey struct {
	fingerprint string
	armored     []byte
	pubring     string
}

func newPGPKey(t testing.TB, cfg *packet.Config) pgpKey {
	t.Helper()
	if cfg == nil {
		cfg = &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	}
	e, err := openpgp.NewEntity("weir test", "", "test@weir.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var priv bytes.Buffer
	w, err := pgparmor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	ring := filepath.Join(t.TempDir(), "pubring.gpg") // a public key only
	if err := os.WriteFile(ring, pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return pgpKey{
		fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
		armored:     priv.Bytes(),
		pubring:     ring,
	}
}

// recipients says whom a test document is encrypted for, and how.
type recipients struct {
	age            []ageKey
	pgp            []pgpKey
	encryptedRegex string // empty: encrypt everything but *_unencrypted keys
}

type testStore interface {
	sops.PlainFileLoader
	sops.EncryptedFileEmitter
}

func testStoreFor(f formats.Format) testStore {
	switch f {
	case formats.Yaml:
		return yaml.NewStore(&config.YAMLStoreConfig{})
	case formats.Json:
		return json.NewStore(&config.JSONStoreConfig{})
	case formats.Dotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{})
	case formats.Ini:
		return ini.NewStore(&config.INIStoreConfig{})
	default:
		return json.NewBinaryStore(&config.JSONBinaryStoreConfig{})
	}
}

// encrypt encrypts plain with the SOPS library the way `sops --encrypt`
// does: a random data key wrapped for every recipient, the tree encrypted
// with AES-GCM, and the MAC of the plaintext encrypted with lastmodified.
func encrypt(t testing.TB, plain []byte, f formats.Format, to recipients) []byte {
	t.Helper()
	store := testStoreFor(f)
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatalf("loading plain %v document: %v", f, err)
	}
	var group sops.KeyGroup
	for _, a := range to.age {
		k, err := sopsage.MasterKeyFromRecipient(a.recipient)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, k)
	}
	for _, p := range to.pgp {
		k := pgp.NewMasterKeyFromFingerprint(p.fingerprint)
		pgp.PubRing(p.pubring).ApplyToMasterKey(k)
		group = append(group, k)
	}
	meta := sops.Metadata{KeyGroups: []sops.KeyGroup{group}, Version: "3.13.3"}
	if to.encryptedRegex != "" {
		meta.EncryptedRegex = to.encryptedRegex
	} else {
		meta.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	}
	tree := sops.Tree{Branches: branches, Metadata: meta}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	for _, k := range group {
		if err := k.Encrypt(dataKey); err != nil {
			t.Fatalf("wrapping the data key for %s: %v", k.ToString(), err)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decryptorFor builds a Decryptor from a Secret holding the given keys.
func decryptorFor(t testing.TB, ages []ageKey, pgps []pgpKey) *Decryptor {
	t.Helper()
	data := map[string][]byte{"sops.vault-token": []byte("ignored")}
	for i, a := range ages {
		data[fmt.Sprintf("id%d%s", i, AgeKeySuffix)] = a.secret
	}
	for i, p := range pgps {
		data[fmt.Sprintf("key%d%s", i, PGPKeySuffix)] = p.armored
	}
	d, err := New(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// toObject decodes one YAML or JSON manifest.
func toObject(t testing.TB, manifest []byte) *unstructured.Unstructured {
	t.Helper()
	j, err := sigsyaml.YAMLToJSON(manifest)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

// memFS makes an in-memory file system holding files.
func memFS(t testing.TB, files map[string][]byte) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		if err := fs.MkdirAll(filepath.Dir(p)); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(p, data); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// kustomize builds dir of fs as the kustomization controller does, and
// returns the objects through JSON, as it hands them on.
func kustomize(t testing.TB, fs filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	opts.PluginConfig = types.DisabledPluginConfig()
	rm, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// assertNoLeak fails when err's text holds any of the secrets.
func assertNoLeak(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error leaks a secret value: %v", err)
		}
	}
}

// publicOnly returns the armored public key of p.
func publicOnly(t testing.TB, p pgpKey) []byte {
	t.Helper()
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(p.armored))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := pgparmor.Encode(&out, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring[0].Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// protected returns an armored private key locked with a passphrase.
func protected(t testing.TB) []byte {
	t.Helper()
	e, err := openpgp.NewEntity("locked", "", "locked@weir.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.EncryptPrivateKeys([]byte("passphrase"), nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := pgparmor.Encode(&out, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
