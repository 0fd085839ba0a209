package decrypt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
)

// macPolicy says how much of the SOPS MAC a document must satisfy.
type macPolicy int

const (
	// macVerify: the MAC must authenticate under the data key and equal the
	// digest of the decrypted values. For files, which reach us as SOPS
	// wrote them.
	macVerify macPolicy = iota
	// macAuthenticate: the MAC must authenticate under the data key (so a
	// corrupted MAC or lastmodified fails), but its digest is not compared.
	// For objects that went through kustomize, which adds metadata (namespace,
	// labels, name prefixes) and loses the key order the digest depends on;
	// Flux skips the MAC entirely there. Every value is still authenticated by
	// AES-GCM bound to its key path.
	macAuthenticate
)

// formatNames are the names SOPS uses for its formats.
var formatNames = map[formats.Format]string{
	formats.Binary: "binary",
	formats.Dotenv: "dotenv",
	formats.Ini:    "INI",
	formats.Json:   "JSON",
	formats.Yaml:   "YAML",
}

// markers are byte strings that every SOPS document of a format contains
// (its encrypted MAC), used to tell an encrypted file or Secret entry from a
// plain one without parsing it. Binary files are stored as JSON.
var markers = []struct {
	format formats.Format
	marker []byte
}{
	{formats.Json, []byte(`"mac": "ENC[`)},
	{formats.Yaml, []byte("mac: ENC[")},
	{formats.Dotenv, []byte("sops_mac=ENC[")},
	{formats.Ini, []byte("[sops]")},
}

// markerFor returns the marker of a document of format f.
func markerFor(f formats.Format) []byte {
	if f == formats.Binary {
		f = formats.Json
	}
	for _, m := range markers {
		if m.format == f {
			return m.marker
		}
	}
	return nil
}

// detectFormat returns the format whose marker data contains.
func detectFormat(data []byte) (formats.Format, bool) {
	for _, m := range markers {
		if bytes.Contains(data, m.marker) {
			return m.format, true
		}
	}
	return formats.Binary, false
}

// formatForPath picks the format from a file or Secret key name, as SOPS
// does, with Flux's addition that .dockerconfigjson is JSON.
func formatForPath(p string) formats.Format {
	if strings.HasSuffix(p, ".dockerconfigjson") {
		return formats.Json
	}
	return formats.FormatForPath(p)
}

type documentStore interface {
	sops.EncryptedFileLoader
	sops.PlainFileEmitter
}

func storeFor(f formats.Format) documentStore {
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

// decryptDocument decrypts a SOPS document of format in and returns it in
// format out, without its sops metadata. No error it returns carries a
// value of the document, the data key or the MAC.
func (d *Decryptor) decryptDocument(data []byte, in, out formats.Format, policy macPolicy) (plain []byte, err error) {
	defer func() {
		// Crafted input has made SOPS' stores panic before; never let that
		// take the process down, nor let the panic value reach the error.
		if r := recover(); r != nil {
			plain, err = nil, fmt.Errorf("%w: the %s document cannot be processed", ErrMalformed, formatNames[in])
		}
	}()

	tree, err := storeFor(in).LoadEncryptedFile(data)
	if err != nil {
		if errors.Is(err, sops.MetadataNotFound) {
			return nil, fmt.Errorf("%w: no sops metadata in the %s document", ErrMalformed, formatNames[in])
		}
		return nil, fmt.Errorf("%w: cannot parse the %s document", ErrMalformed, formatNames[in])
	}
	key, err := d.dataKey(&tree.Metadata)
	if err != nil {
		return nil, err
	}

	// The stored MAC is encrypted under the data key with lastmodified as
	// additional data: opening it authenticates both.
	if tree.Metadata.MessageAuthenticationCode == "" {
		return nil, fmt.Errorf("%w: the document has no MAC", ErrIntegrity)
	}
	storedMAC, err := aes.NewCipher().Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("%w: the MAC fails authentication (corrupted MAC or lastmodified)", ErrIntegrity)
	}

	c := &guardedCipher{inner: aes.NewCipher()}
	computedMAC, err := tree.Decrypt(key, c)
	if err != nil {
		if c.failure != nil {
			return nil, c.failure
		}
		return nil, fmt.Errorf("%w: the %s document tree cannot be decrypted", ErrMalformed, formatNames[in])
	}
	if policy == macVerify && storedMAC != computedMAC {
		return nil, fmt.Errorf("%w: the MAC does not match the decrypted values (the document was changed after encryption)", ErrIntegrity)
	}

	plain, err = storeFor(out).EmitPlainFile(tree.Branches)
	if errors.Is(err, json.BinaryStoreEmitPlainError) {
		// A structured document asked for as binary (a key or file name
		// without a known extension): Flux fails here; write it in its own
		// format instead, JSON for a document read as binary.
		f := in
		if f == formats.Binary {
			f = formats.Json
		}
		plain, err = storeFor(f).EmitPlainFile(tree.Branches)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the decrypted %s document cannot be written as %s", ErrMalformed, formatNames[in], formatNames[out])
	}
	return plain, nil
}

// guardedCipher decrypts tree values with SOPS' AES-GCM cipher and replaces
// its errors, which may quote the value (a plaintext value where ciphertext
// was expected, or a decrypted value of the wrong type), with ones that name
// only the value's key path.
type guardedCipher struct {
	inner   sops.Cipher
	failure error
}

func (c *guardedCipher) Encrypt(any, []byte, string) (string, error) {
	return "", errors.New("encryption is not supported")
}

func (c *guardedCipher) Decrypt(ciphertext string, key []byte, additionalData string) (any, error) {
	v, err := c.inner.Decrypt(ciphertext, key, additionalData)
	if err == nil {
		return v, nil
	}
	where := strings.TrimSuffix(additionalData, ":")
	if !strings.HasPrefix(ciphertext, "ENC[AES256_GCM,") {
		err = fmt.Errorf("%w: the value at %q is not SOPS ciphertext (was a plain value added to an encrypted document?)", ErrIntegrity, where)
	} else {
		err = fmt.Errorf("%w: the value at %q fails authentication", ErrIntegrity, where)
	}
	// SOPS tolerates comments that fail to decrypt (older files left them
	// plain) and walks on, but stops at the first value that fails: the last
	// failure recorded is that value's.
	c.failure = err
	return nil, err
}
