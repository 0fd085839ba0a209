package decrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"
)

// FuzzDecryptObjects feeds arbitrary objects, seeded with real SOPS
// documents, to the manifest entry point: it must never panic, every error
// must carry one of the package's reasons, and no error may quote a
// plaintext of the seeds.
func FuzzDecryptObjects(f *testing.F) {
	a := newAgeKey(f)
	d := decryptorFor(f, []ageKey{a}, nil)
	to := recipients{age: []ageKey{a}, encryptedRegex: secretRegex}

	manifest, err := sigsyaml.YAMLToJSON(encrypt(f, secretManifest, formats.Yaml, to))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(manifest)
	whole, err := sigsyaml.YAMLToJSON(encrypt(f, secretManifest, formats.Yaml, recipients{age: []ageKey{a}}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(whole)
	env := encrypt(f, []byte(plainEnv), formats.Dotenv, recipients{age: []ageKey{a}})
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"gen"},"data":{"app.env":"` +
		base64.StdEncoding.EncodeToString(env) + `"}}`))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"},"sops":{"mac":"ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]","age":[{"recipient":"` +
		a.recipient + `","enc":"x"}],"lastmodified":"2024-01-01T00:00:00Z","version":"3.13.3"}}`))

	secrets := []string{dbPassword, apiToken, base64.StdEncoding.EncodeToString([]byte(dbPassword))}
	reasons := []error{ErrNoKey, ErrIntegrity, ErrMalformed}

	f.Fuzz(func(t *testing.T, data []byte) {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return
		}
		wasEncrypted := IsEncrypted(obj) && !IsDecryptionDisabled(obj)
		err := d.DecryptObjects([]*unstructured.Unstructured{obj})
		if err == nil {
			if wasEncrypted {
				if _, found := obj.Object["sops"]; found {
					t.Fatal("a decrypted object kept its sops metadata")
				}
			}
			return
		}
		known := false
		for _, r := range reasons {
			known = known || errors.Is(err, r)
		}
		if !known {
			t.Fatalf("error without a reason: %v", err)
		}
		for _, s := range secrets {
			if !bytes.Contains(data, []byte(s)) {
				assertNoLeak(t, err, s)
			}
		}
	})
}
