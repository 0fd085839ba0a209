package decrypt

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DisableAnnotation opts an object out of decryption when set to
// DisabledValue (case-insensitive), as in Flux.
const (
	DisableAnnotation = "kustomize.toolkit.fluxcd.io/decrypt"
	DisabledValue     = "disabled"
)

// IsEncrypted tells whether obj is a SOPS document: it has a top-level
// "sops" map with a MAC, as `sops --encrypt` writes any YAML or JSON file.
func IsEncrypted(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	mac, found, err := unstructured.NestedString(obj.Object, "sops", "mac")
	return found && err == nil && mac != ""
}

// IsDecryptionDisabled tells whether obj carries the decrypt: disabled
// annotation.
func IsDecryptionDisabled(obj *unstructured.Unstructured) bool {
	return strings.EqualFold(obj.GetAnnotations()[DisableAnnotation], DisabledValue)
}

// isEncryptedSecret is Flux's test for a Secret that must not be applied: a
// core v1 Secret with a top-level "sops" field.
func isEncryptedSecret(obj *unstructured.Unstructured) bool {
	if obj == nil || obj.GetKind() != "Secret" || obj.GetAPIVersion() != "v1" {
		return false
	}
	_, found := obj.Object["sops"]
	return found
}

// EnsureDecrypted fails with ErrEncrypted on the first v1 Secret that still
// holds SOPS metadata, so a build without spec.decryption, or a Secret that
// opted out of it, never applies ciphertext. Other kinds are left alone, as
// Flux leaves them: some operators' custom resources carry SOPS documents on
// purpose and decrypt them in the cluster.
func EnsureDecrypted(objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if isEncryptedSecret(obj) {
			return fmt.Errorf("%w: %s: configure spec.decryption with provider sops to reconcile it", ErrEncrypted, describe(obj))
		}
	}
	return nil
}

// DecryptObjects decrypts, in place, the built objects that need it:
//   - an object that is a whole SOPS document (see IsEncrypted), of any kind
//     as in Flux, is replaced by its plaintext without the sops metadata;
//   - in a v1 Secret that is not, each data entry whose content is a SOPS
//     document (a secretGenerator file kustomize read before it was
//     decrypted) is decrypted, written in the format of its key's extension.
//
// Objects with the decrypt: disabled annotation are skipped. It stops at the
// first failure; the error names the object (and entry) and the reason.
func (d *Decryptor) DecryptObjects(objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		if obj == nil || IsDecryptionDisabled(obj) {
			continue
		}
		var err error
		switch {
		case IsEncrypted(obj):
			err = d.decryptObject(obj)
		case obj.GetKind() == "Secret" && obj.GetAPIVersion() == "v1":
			err = d.decryptSecretEntries(obj)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Decryptor) decryptObject(obj *unstructured.Unstructured) error {
	// Objects come out of kustomize: JSON keeps them exact and spares a
	// YAML round trip. The JSON store keeps key order and number types.
	data, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("decrypting %s: %w: cannot encode the object", describe(obj), ErrMalformed)
	}
	plain, err := d.decryptDocument(data, formats.Json, formats.Json, macAuthenticate)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", describe(obj), err)
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(plain); err != nil {
		return fmt.Errorf("decrypting %s: %w: the decrypted document is not a Kubernetes object", describe(obj), ErrMalformed)
	}
	obj.Object = out.Object
	return nil
}

func (d *Decryptor) decryptSecretEntries(obj *unstructured.Unstructured) error {
	entries, ok := obj.Object["data"].(map[string]any)
	if !ok {
		return nil
	}
	for key, v := range entries {
		s, ok := v.(string)
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			// Not ours to judge: the API server reports a bad entry.
			continue
		}
		in, ok := detectFormat(raw)
		if !ok {
			continue
		}
		plain, err := d.decryptDocument(raw, in, formatForPath(key), macVerify)
		if err != nil {
			return fmt.Errorf("decrypting %s entry %q: %w", describe(obj), key, err)
		}
		entries[key] = base64.StdEncoding.EncodeToString(plain)
	}
	return nil
}

// describe names an object as Kind/namespace/name.
func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s/%s", obj.GetKind(), obj.GetName())
}
