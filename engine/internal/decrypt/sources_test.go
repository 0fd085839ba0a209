package decrypt

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Plaintexts of the generator inputs.
var (
	plainEnv      = "DB_PASSWORD=" + dbPassword + "\nDB_USER=app\n"
	plainBaseEnv  = "BASE_TOKEN=" + apiToken + "\n"
	plainCompVars = "COMP_SECRET=comp-s3cr3t-value\n"
	plainJSON     = `{"apiKey": "json-s3cr3t-value", "retries": 3}`
	plainYAML     = "user: admin\npassword: yaml-s3cr3t-value\n"
	plainINI      = "[db]\npassword = ini-s3cr3t-value\n"
	plainBinary   = "\x00\x01binary-s3cr3t-value\n\xff"
	plainPatch    = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  patched: patch-s3cr3t-value\n"
	allPlain      = []string{dbPassword, apiToken, "comp-s3cr3t-value", "json-s3cr3t-value", "yaml-s3cr3t-value", "ini-s3cr3t-value", "binary-s3cr3t-value", "patch-s3cr3t-value"}
)

// sourceTree is an artifact whose kustomizations use every kind of
// secretGenerator input, encrypted for to, plus a plain one, a base, a
// component and an encrypted patch.
func sourceTree(t testing.TB, to recipients) map[string][]byte {
	t.Helper()
	yamlTo := to
	yamlTo.encryptedRegex = "^password$" // leaves user plain, so it can be tampered with
	patchTo := to
	patchTo.encryptedRegex = "^stringData$"
	return map[string][]byte{
		"/src/base/kustomization.yaml": []byte(`secretGenerator:
- name: base-creds
  env: base.env
  options: {disableNameSuffixHash: true}
`),
		"/src/base/base.env": encrypt(t, []byte(plainBaseEnv), formats.Dotenv, to),
		"/src/comp/kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
secretGenerator:
- name: comp
  envs: [comp.vars]
  options: {disableNameSuffixHash: true}
`),
		"/src/comp/comp.vars": encrypt(t, []byte(plainCompVars), formats.Dotenv, to),
		"/src/apps/kustomization.yaml": []byte(`resources: [../base, configmap.yaml]
components: [../comp]
secretGenerator:
- name: app
  files:
  - config.json
  - creds.yaml=enc/creds.sops.yaml
  - settings.ini
  - token
  - ca.crt
  envs: [app.env]
  options: {disableNameSuffixHash: true}
- name: again
  files: [config.json]
  options: {disableNameSuffixHash: true}
patches:
- path: patch.yaml
`),
		"/src/apps/configmap.yaml":            []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {k: v}\n"),
		"/src/apps/config.json":               encrypt(t, []byte(plainJSON), formats.Json, to),
		"/src/apps/enc/creds.sops.yaml":       encrypt(t, []byte(plainYAML), formats.Yaml, yamlTo),
		"/src/apps/settings.ini":              encrypt(t, []byte(plainINI), formats.Ini, to),
		"/src/apps/token":                     encrypt(t, []byte(plainBinary), formats.Binary, to),
		"/src/apps/ca.crt":                    []byte("-----BEGIN CERTIFICATE-----\nplain\n-----END CERTIFICATE-----\n"),
		"/src/apps/app.env":                   encrypt(t, []byte(plainEnv), formats.Dotenv, to),
		"/src/apps/patch.yaml":                encrypt(t, []byte(plainPatch), formats.Yaml, patchTo),
		"/src/outside-ref/kustomization.yaml": []byte("resources: [https://example.com/remote.yaml, ../../elsewhere]\nsecretGenerator:\n- name: x\n  envs: [../../elsewhere/x.env]\n"),
	}
}

func secretData(g Gomega, objs []*unstructured.Unstructured, name string) map[string]string {
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.GetName() == name {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			out := map[string]string{}
			for k, v := range data {
				b, err := base64.StdEncoding.DecodeString(v)
				g.Expect(err).NotTo(HaveOccurred())
				out[k] = string(b)
			}
			sd, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
			for k, v := range sd {
				out[k] = v
			}
			return out
		}
	}
	g.Expect(name).To(BeEmpty(), "Secret not found")
	return nil
}

func TestDecryptSources(t *testing.T) {
	a := newAgeKey(t)
	p := newPGPKey(t, nil)
	for _, tc := range []struct {
		name string
		to   recipients
		dec  func(t *testing.T) *Decryptor
	}{
		{"age", recipients{age: []ageKey{a}}, func(t *testing.T) *Decryptor { return decryptorFor(t, []ageKey{a}, nil) }},
		{"openpgp", recipients{pgp: []pgpKey{p}}, func(t *testing.T) *Decryptor { return decryptorFor(t, nil, []pgpKey{p}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			files := sourceTree(t, tc.to)
			fs := memFS(t, files)
			// The controller's shape: the artifact under /src, an overlay
			// beside it, walked from the overlay with the whole tree as root.
			g.Expect(fs.MkdirAll("/overlay")).To(Succeed())
			g.Expect(fs.WriteFile("/overlay/kustomization.yaml", []byte("resources: [../src/apps]\nnamespace: apps\n"))).To(Succeed())

			g.Expect(tc.dec(t).DecryptSources(fs, "/", "/overlay")).To(Succeed())

			objs := kustomize(t, fs, "/overlay")
			g.Expect(EnsureDecrypted(objs)).To(Succeed())
			app := secretData(g, objs, "app")
			g.Expect(app["DB_PASSWORD"]).To(Equal(dbPassword))
			g.Expect(app["DB_USER"]).To(Equal("app"))
			g.Expect(app["config.json"]).To(MatchJSON(plainJSON))
			g.Expect(app["creds.yaml"]).To(MatchYAML(plainYAML))
			g.Expect(app["settings.ini"]).To(ContainSubstring("ini-s3cr3t-value"))
			g.Expect(app["settings.ini"]).NotTo(ContainSubstring("sops"))
			g.Expect(app["token"]).To(Equal(plainBinary))
			g.Expect(app["ca.crt"]).To(Equal(string(files["/src/apps/ca.crt"])))
			g.Expect(app["patched"]).To(Equal("patch-s3cr3t-value"))
			g.Expect(secretData(g, objs, "again")["config.json"]).To(MatchJSON(plainJSON))
			g.Expect(secretData(g, objs, "base-creds")["BASE_TOKEN"]).To(Equal(apiToken))
			g.Expect(secretData(g, objs, "comp")["COMP_SECRET"]).To(Equal("comp-s3cr3t-value"))

			// Decrypted in place, in memory; files nothing refers to are
			// left alone.
			env, err := fs.ReadFile("/src/apps/app.env")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(string(env)).To(Equal(plainEnv))
		})
	}
}

func TestDecryptSourcesBoundaries(t *testing.T) {
	g := NewWithT(t)
	a := newAgeKey(t)
	files := sourceTree(t, recipients{age: []ageKey{a}})
	outside := encrypt(t, []byte(plainEnv), formats.Dotenv, recipients{age: []ageKey{a}})
	files["/elsewhere/x.env"] = outside
	files["/elsewhere/kustomization.yaml"] = []byte("secretGenerator:\n- name: y\n  envs: [x.env]\n")
	fs := memFS(t, files)
	d := decryptorFor(t, []ageKey{a}, nil)

	// A reference that leaves root is not followed, nor is a remote one.
	g.Expect(d.DecryptSources(fs, "/src", "/src/outside-ref")).To(Succeed())
	g.Expect(fs.ReadFile("/elsewhere/x.env")).To(Equal(outside))
	// Nor is a start directory outside root.
	g.Expect(d.DecryptSources(fs, "/src/base", "/src/apps")).To(Succeed())
	g.Expect(fs.ReadFile("/src/apps/app.env")).To(Equal(files["/src/apps/app.env"]))
	// A relative dir is taken from the file system's root.
	g.Expect(d.DecryptSources(fs, "/src", "src/base")).To(Succeed())
	g.Expect(fs.ReadFile("/src/base/base.env")).To(Equal([]byte(plainBaseEnv)))

	// Nothing is ever decrypted onto a disk.
	err := d.DecryptSources(filesys.MakeFsOnDisk(), t.TempDir(), ".")
	g.Expect(err).To(MatchError(ErrNotInMemory))
}

func TestDecryptSourcesFailures(t *testing.T) {
	a, other := newAgeKey(t), newAgeKey(t)
	to := recipients{age: []ageKey{a}}
	tests := []struct {
		name    string
		dec     *Decryptor
		mutate  func(t *testing.T, files map[string][]byte)
		wantErr error
		wantMsg string
	}{
		{name: "wrong key", dec: decryptorFor(t, []ageKey{other}, nil),
			wantErr: ErrNoKey, wantMsg: "decrypting apps/config.json: no matching decryption key: age recipient " + a.recipient},
		{name: "missing key", dec: decryptorFor(t, nil, nil),
			wantErr: ErrNoKey, wantMsg: "holds no .agekey or .asc key"},
		{name: "file encrypted for another recipient", dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(t *testing.T, files map[string][]byte) {
				files["/src/apps/app.env"] = encrypt(t, []byte(plainEnv), formats.Dotenv, recipients{age: []ageKey{other}})
			},
			wantErr: ErrNoKey, wantMsg: "decrypting apps/app.env: no matching decryption key: age recipient " + other.recipient},
		{name: "plain value changed after encryption", dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(t *testing.T, files map[string][]byte) {
				f := "/src/apps/enc/creds.sops.yaml"
				files[f] = []byte(strings.Replace(string(files[f]), "user: admin", "user: root", 1))
			},
			wantErr: ErrIntegrity, wantMsg: "decrypting apps/enc/creds.sops.yaml: SOPS integrity check failed: the MAC does not match"},
		{name: "value removed after encryption", dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(t *testing.T, files map[string][]byte) {
				f := "/src/apps/app.env"
				var kept []string
				for _, l := range strings.Split(string(files[f]), "\n") {
					if !strings.HasPrefix(l, "DB_USER=") {
						kept = append(kept, l)
					}
				}
				files[f] = []byte(strings.Join(kept, "\n"))
			},
			wantErr: ErrIntegrity, wantMsg: "decrypting apps/app.env: SOPS integrity check failed: the MAC does not match"},
		{name: "corrupted MAC", dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(t *testing.T, files map[string][]byte) {
				f := "/src/apps/app.env"
				var out []string
				for _, l := range strings.Split(string(files[f]), "\n") {
					if v, ok := strings.CutPrefix(l, "sops_mac="); ok {
						l = "sops_mac=" + flipData(v)
					}
					out = append(out, l)
				}
				files[f] = []byte(strings.Join(out, "\n"))
			},
			wantErr: ErrIntegrity, wantMsg: "decrypting apps/app.env: SOPS integrity check failed: the MAC fails authentication"},
		{name: "too large", dec: func() *Decryptor {
			d, err := New(map[string][]byte{"k.agekey": a.secret}, WithMaxFileSize(64))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}(), wantErr: ErrMalformed, wantMsg: "exceed the limit of 64"},
		{name: "two kustomization files", dec: decryptorFor(t, []ageKey{a}, nil),
			mutate: func(t *testing.T, files map[string][]byte) {
				files["/src/base/kustomization.yml"] = files["/src/base/kustomization.yaml"]
			},
			wantErr: ErrMalformed, wantMsg: "base has more than one kustomization file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			files := sourceTree(t, to)
			if tt.mutate != nil {
				tt.mutate(t, files)
			}
			err := tt.dec.DecryptSources(memFS(t, files), "/src", "/src/apps")
			g.Expect(err).To(MatchError(tt.wantErr))
			g.Expect(err.Error()).To(ContainSubstring(tt.wantMsg))
			assertNoLeak(t, err, allPlain...)
		})
	}
}
