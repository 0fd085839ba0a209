package decrypt

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	dbPassword = "hunter2-correct-horse"
	apiToken   = "tok_9f8e7d6c5b4a"
)

var secretManifest = []byte(`apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  password: ` + base64.StdEncoding.EncodeToString([]byte(dbPassword)) + `
stringData:
  token: ` + apiToken + `
  port: "5432"
`)

// flux's documented way: encrypt only data and stringData.
const secretRegex = "^(data|stringData)$"

// buildEncryptedSecret encrypts the Secret manifest and runs it through a
// kustomization that adds a namespace and labels, as a real build does.
func buildEncryptedSecret(t testing.TB, to recipients) *unstructured.Unstructured {
	t.Helper()
	enc := encrypt(t, secretManifest, formats.Yaml, to)
	fs := memFS(t, map[string][]byte{
		"/src/secret.yaml": enc,
		"/src/kustomization.yaml": []byte(`resources: [secret.yaml]
namespace: apps
labels: [{pairs: {team: db}}]
namePrefix: prod-
`),
	})
	objs := kustomize(t, fs, "/src")
	if len(objs) != 1 || !IsEncrypted(objs[0]) {
		t.Fatalf("expected one encrypted object, got %v", objs)
	}
	return objs[0]
}

func expectPlainSecret(g Gomega, obj *unstructured.Unstructured) {
	g.Expect(obj.Object).NotTo(HaveKey("sops"))
	g.Expect(IsEncrypted(obj)).To(BeFalse())
	pw, _, _ := unstructured.NestedString(obj.Object, "data", "password")
	g.Expect(base64.StdEncoding.DecodeString(pw)).To(Equal([]byte(dbPassword)))
	sd, _, _ := unstructured.NestedStringMap(obj.Object, "stringData")
	g.Expect(sd).To(Equal(map[string]string{"token": apiToken, "port": "5432"}))
	g.Expect(obj.GetNamespace()).To(Equal("apps"))
	g.Expect(obj.GetName()).To(Equal("prod-db"))
	g.Expect(obj.GetLabels()).To(HaveKeyWithValue("team", "db"))
	g.Expect(EnsureDecrypted([]*unstructured.Unstructured{obj})).To(Succeed())
}

func TestDecryptObjectsSecretManifest(t *testing.T) {
	a := newAgeKey(t)
	p := newPGPKey(t, nil)
	rsa := newPGPKey(t, &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048})

	tests := []struct {
		name string
		to   recipients
		dec  func(t *testing.T) *Decryptor
	}{
		{"age", recipients{age: []ageKey{a}}, func(t *testing.T) *Decryptor { return decryptorFor(t, []ageKey{a}, nil) }},
		{"openpgp eddsa", recipients{pgp: []pgpKey{p}}, func(t *testing.T) *Decryptor { return decryptorFor(t, nil, []pgpKey{p}) }},
		{"openpgp rsa", recipients{pgp: []pgpKey{rsa}}, func(t *testing.T) *Decryptor { return decryptorFor(t, nil, []pgpKey{rsa}) }},
		{"age and openpgp recipients, openpgp key only", recipients{age: []ageKey{a}, pgp: []pgpKey{p}}, func(t *testing.T) *Decryptor { return decryptorFor(t, nil, []pgpKey{p}) }},
		{"several keys in the Secret", recipients{age: []ageKey{a}}, func(t *testing.T) *Decryptor {
			return decryptorFor(t, []ageKey{newAgeKey(t), a}, []pgpKey{p})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			tt.to.encryptedRegex = secretRegex
			obj := buildEncryptedSecret(t, tt.to)
			g.Expect(EnsureDecrypted([]*unstructured.Unstructured{obj})).To(MatchError(ErrEncrypted))
			g.Expect(tt.dec(t).DecryptObjects([]*unstructured.Unstructured{obj})).To(Succeed())
			expectPlainSecret(g, obj)
		})
	}
}

func TestDecryptObjectsFailures(t *testing.T) {
	a, other := newAgeKey(t), newAgeKey(t)
	p, otherPGP := newPGPKey(t, nil), newPGPKey(t, nil)
	secrets := []string{dbPassword, apiToken, base64.StdEncoding.EncodeToString([]byte(dbPassword))}

	tests := []struct {
		name    string
		to      recipients
		dec     *Decryptor
		mutate  func(obj *unstructured.Unstructured)
		wantErr error
		wantMsg string
	}{
		{name: "wrong age key", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{other}, nil),
			wantErr: ErrNoKey, wantMsg: "age recipient " + a.recipient + ": no identity in the decryption Secret matches"},
		{name: "wrong OpenPGP key", to: recipients{pgp: []pgpKey{p}}, dec: decryptorFor(t, nil, []pgpKey{otherPGP}),
			wantErr: ErrNoKey, wantMsg: "OpenPGP key " + p.fingerprint},
		{name: "missing key: empty Secret", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, nil, nil),
			wantErr: ErrNoKey, wantMsg: "holds no .agekey or .asc key"},
		{name: "missing key: only an OpenPGP key for an age document", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, nil, []pgpKey{p}),
			wantErr: ErrNoKey, wantMsg: "no age identity in the decryption Secret"},
		{name: "encrypted for other recipients", to: recipients{age: []ageKey{other}, pgp: []pgpKey{otherPGP}}, dec: decryptorFor(t, []ageKey{a}, []pgpKey{p}),
			wantErr: ErrNoKey, wantMsg: other.recipient},
		{name: "corrupted MAC", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				mac, _, _ := unstructured.NestedString(obj.Object, "sops", "mac")
				_ = unstructured.SetNestedField(obj.Object, flipData(mac), "sops", "mac")
			},
			wantErr: ErrIntegrity, wantMsg: "MAC fails authentication"},
		{name: "changed lastmodified", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(obj.Object, "2001-01-01T00:00:00Z", "sops", "lastmodified")
			},
			wantErr: ErrIntegrity, wantMsg: "MAC fails authentication"},
		{name: "corrupted value", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				v, _, _ := unstructured.NestedString(obj.Object, "stringData", "token")
				_ = unstructured.SetNestedField(obj.Object, flipData(v), "stringData", "token")
			},
			wantErr: ErrIntegrity, wantMsg: `value at "stringData:token" fails authentication`},
		{name: "value moved to another key", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				v, _, _ := unstructured.NestedString(obj.Object, "data", "password")
				_ = unstructured.SetNestedField(obj.Object, v, "stringData", "token")
			},
			wantErr: ErrIntegrity, wantMsg: `value at "stringData:token" fails authentication`},
		{name: "plain value merged into an encrypted Secret", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(obj.Object, apiToken, "stringData", "extra")
			},
			wantErr: ErrIntegrity, wantMsg: `value at "stringData:extra" is not SOPS ciphertext`},
		{name: "unsupported master key", to: recipients{age: []ageKey{a}}, dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(obj *unstructured.Unstructured) {
				sops := obj.Object["sops"].(map[string]any)
				delete(sops, "age")
				sops["kms"] = []any{map[string]any{"arn": "arn:aws:kms:eu-west-1:000000000000:key/x", "enc": "AQID", "created_at": "2024-01-01T00:00:00Z"}}
			},
			wantErr: ErrNoKey, wantMsg: "kms master key: not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			tt.to.encryptedRegex = secretRegex
			obj := buildEncryptedSecret(t, tt.to)
			if tt.mutate != nil {
				tt.mutate(obj)
			}
			err := tt.dec.DecryptObjects([]*unstructured.Unstructured{obj})
			g.Expect(err).To(MatchError(tt.wantErr))
			g.Expect(err.Error()).To(HavePrefix("decrypting Secret/apps/prod-db: "))
			g.Expect(err.Error()).To(ContainSubstring(tt.wantMsg))
			assertNoLeak(t, err, secrets...)
			// Nothing was half-decrypted: the object still refuses to apply.
			g.Expect(EnsureDecrypted([]*unstructured.Unstructured{obj})).To(MatchError(ErrEncrypted))
		})
	}
}

// flipData changes one character of the data part of an ENC[...] value.
func flipData(v string) string {
	i := strings.Index(v, "data:") + len("data:")
	b := []byte(v)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestDecryptObjectsSkipsAndGuards(t *testing.T) {
	g := NewWithT(t)
	a := newAgeKey(t)
	d := decryptorFor(t, []ageKey{a}, nil)

	disabled := buildEncryptedSecret(t, recipients{age: []ageKey{a}, encryptedRegex: secretRegex})
	disabled.SetAnnotations(map[string]string{DisableAnnotation: "Disabled"})
	plain := toObject(t, secretManifest)
	cm := toObject(t, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n"))
	objs := []*unstructured.Unstructured{disabled, plain, cm}

	g.Expect(d.DecryptObjects(objs)).To(Succeed())
	g.Expect(IsEncrypted(disabled)).To(BeTrue(), "an opted-out object is left as it is")
	g.Expect(plain.Object).To(Equal(toObject(t, secretManifest).Object))
	err := EnsureDecrypted(objs)
	g.Expect(err).To(MatchError(ErrEncrypted))
	g.Expect(err.Error()).To(ContainSubstring("Secret/apps/prod-db"))
	g.Expect(EnsureDecrypted(objs[1:])).To(Succeed())

	// A custom resource carrying a SOPS document for an in-cluster operator
	// is not a Secret: the guard lets it through, as Flux does.
	cr := toObject(t, encrypt(t, []byte("apiVersion: example.com/v1\nkind: SopsSecret\nmetadata: {name: s}\nspec: {k: v}\n"),
		formats.Yaml, recipients{age: []ageKey{a}, encryptedRegex: "^spec$"}))
	g.Expect(IsEncrypted(cr)).To(BeTrue())
	g.Expect(EnsureDecrypted([]*unstructured.Unstructured{cr})).To(Succeed())
	// With decryption configured, it is decrypted like any SOPS document.
	g.Expect(d.DecryptObjects([]*unstructured.Unstructured{cr})).To(Succeed())
	v, _, _ := unstructured.NestedString(cr.Object, "spec", "k")
	g.Expect(v).To(Equal("v"))
}

// A secretGenerator that read an encrypted file (DecryptSources not run, or
// a key whose extension names another format) puts the SOPS document into
// a data entry: it is found by its marker and decrypted there.
func TestDecryptObjectsSecretEntries(t *testing.T) {
	g := NewWithT(t)
	a := newAgeKey(t)
	env := encrypt(t, []byte("DB_PASSWORD="+dbPassword+"\nPORT=5432\n"), formats.Dotenv, recipients{age: []ageKey{a}})
	js := encrypt(t, []byte(`{"token": "`+apiToken+`"}`), formats.Json, recipients{age: []ageKey{a}})
	obj := toObject(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: gen, namespace: apps}
data:
  app.env: `+base64.StdEncoding.EncodeToString(env)+`
  token: `+base64.StdEncoding.EncodeToString(js)+`
  plain: `+base64.StdEncoding.EncodeToString([]byte("not encrypted"))+`
`))
	g.Expect(decryptorFor(t, []ageKey{a}, nil).DecryptObjects([]*unstructured.Unstructured{obj})).To(Succeed())
	data, _, _ := unstructured.NestedStringMap(obj.Object, "data")
	dec := func(k string) string {
		b, err := base64.StdEncoding.DecodeString(data[k])
		g.Expect(err).NotTo(HaveOccurred())
		return string(b)
	}
	g.Expect(dec("app.env")).To(Equal("DB_PASSWORD=" + dbPassword + "\nPORT=5432\n"))
	// "token" has no extension, so binary output was asked for; a JSON
	// document is not a binary one, so it comes out as JSON.
	g.Expect(dec("token")).To(MatchJSON(`{"token": "` + apiToken + `"}`))
	g.Expect(dec("plain")).To(Equal("not encrypted"))

	// The entry's MAC is checked in full: the file reached kustomize as SOPS
	// wrote it. Dropping a line changes the values the MAC covers.
	lines := strings.Split(string(env), "\n")
	var cut []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "PORT=") {
			cut = append(cut, l)
		}
	}
	obj = toObject(t, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: gen}\ndata:\n  app.env: "+
		base64.StdEncoding.EncodeToString([]byte(strings.Join(cut, "\n")))+"\n"))
	err := decryptorFor(t, []ageKey{a}, nil).DecryptObjects([]*unstructured.Unstructured{obj})
	g.Expect(err).To(MatchError(ErrIntegrity))
	g.Expect(err.Error()).To(ContainSubstring(`Secret/gen entry "app.env"`))
	g.Expect(err.Error()).To(ContainSubstring("MAC does not match"))
	assertNoLeak(t, err, dbPassword)
}

func TestNewRejectsUnusableKeys(t *testing.T) {
	a := newAgeKey(t)
	p := newPGPKey(t, nil)
	pub := publicOnly(t, p)
	tests := []struct {
		name string
		data map[string][]byte
		want string
	}{
		{"malformed age identity", map[string][]byte{"x.agekey": []byte("AGE-SECRET-KEY-1NOTAKEY\n")}, `Secret key "x.agekey": line 1: malformed age identity`},
		{"not an age identity", map[string][]byte{"x.agekey": []byte("# comment\n\nsecret-ish-text\n")}, "line 3: not an age identity"},
		{"age plugin", map[string][]byte{"x.agekey": []byte("AGE-PLUGIN-YUBIKEY-1QQQQ\n")}, "plugin identities are not supported"},
		{"no age identity", map[string][]byte{"x.agekey": []byte("# only a comment\n")}, "no age identity found"},
		{"not armored OpenPGP", map[string][]byte{"x.asc": a.secret}, "not an armored OpenPGP key"},
		{"public OpenPGP key", map[string][]byte{"x.asc": pub}, "has no private key"},
		{"passphrase-protected OpenPGP key", map[string][]byte{"x.asc": protected(t)}, "protected by a passphrase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := New(tt.data)
			g.Expect(err).To(MatchError(ErrInvalidKey))
			g.Expect(err.Error()).To(ContainSubstring(tt.want))
			assertNoLeak(t, err, "NOTAKEY", "secret-ish-text", strings.TrimSpace(strings.Split(string(a.secret), "\n")[2]))
		})
	}

	g := NewWithT(t)
	d, err := New(map[string][]byte{"a.agekey": a.secret, "b.asc": p.armored, "sops.aws-kms": []byte("ignored")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.HasKeys()).To(BeTrue())
	d, err = New(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.HasKeys()).To(BeFalse())
}

func TestDecryptObjectsConcurrently(t *testing.T) {
	a := newAgeKey(t)
	p := newPGPKey(t, nil)
	d := decryptorFor(t, []ageKey{a}, []pgpKey{p})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		to := recipients{age: []ageKey{a}, encryptedRegex: secretRegex}
		if i%2 == 1 {
			to = recipients{pgp: []pgpKey{p}, encryptedRegex: secretRegex}
		}
		obj := buildEncryptedSecret(t, to)
		wg.Go(func() {
			if err := d.DecryptObjects([]*unstructured.Unstructured{obj}); err != nil {
				errs <- err
				return
			}
			if IsEncrypted(obj) {
				errs <- errors.New("still encrypted")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
