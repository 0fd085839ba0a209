package decrypt

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
)

// The decryption Secret's key suffixes, as Flux reads them.
const (
	// AgeKeySuffix ends Secret keys holding age identities, one per line.
	AgeKeySuffix = ".agekey"
	// PGPKeySuffix ends Secret keys holding armored OpenPGP private keys.
	PGPKeySuffix = ".asc"
)

// DefaultMaxFileSize is the largest encrypted file DecryptSources reads, as in
// Flux.
const DefaultMaxFileSize = 5 << 20

// Decryptor holds the private keys of one decryption Secret. It is immutable
// after New and safe for concurrent use.
type Decryptor struct {
	ageIdentities []age.Identity
	pgpKeys       openpgp.EntityList
	maxFileSize   int64
}

// Option configures a Decryptor.
type Option func(*Decryptor)

// WithMaxFileSize limits the size of a file DecryptSources decrypts;
// n <= 0 keeps DefaultMaxFileSize.
func WithMaxFileSize(n int64) Option {
	return func(d *Decryptor) {
		if n > 0 {
			d.maxFileSize = n
		}
	}
}

// New reads the age identities and OpenPGP private keys from the data of a
// decryption Secret. Keys with other suffixes are ignored, as Flux ignores the
// cloud credentials Weir does not support. A Secret without any key is valid:
// decrypting a document then fails with ErrNoKey. Errors name the Secret key,
// never its content.
func New(data map[string][]byte, opts ...Option) (*Decryptor, error) {
	d := &Decryptor{maxFileSize: DefaultMaxFileSize}
	for _, o := range opts {
		o(d)
	}
	names := make([]string, 0, len(data))
	for name := range data {
		names = append(names, name)
	}
	slices.Sort(names) // the same Secret gives the same key order
	for _, name := range names {
		var err error
		switch path.Ext(name) {
		case AgeKeySuffix:
			err = d.addAgeIdentities(data[name])
		case PGPKeySuffix:
			err = d.addPGPKeys(data[name])
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: Secret key %q: %w", ErrInvalidKey, name, err)
		}
	}
	return d, nil
}

// HasKeys tells whether the Secret held at least one usable key.
func (d *Decryptor) HasKeys() bool {
	return len(d.ageIdentities) > 0 || len(d.pgpKeys) > 0
}

// addAgeIdentities parses one identity per line; blank lines and lines
// starting with '#' (age-keygen writes its public key as such a comment) are
// skipped. Plugin identities are refused: they would run a program.
func (d *Decryptor) addAgeIdentities(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n, found := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var (
			id  age.Identity
			err error
		)
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			return fmt.Errorf("line %d: age plugin identities are not supported", n)
		default:
			return fmt.Errorf("line %d: not an age identity", n)
		}
		if err != nil {
			// age's parse errors may quote the line: keep them out.
			return fmt.Errorf("line %d: malformed age identity", n)
		}
		d.ageIdentities = append(d.ageIdentities, id)
		found++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading age identities: %w", err)
	}
	if found == 0 {
		return fmt.Errorf("no age identity found")
	}
	return nil
}

// addPGPKeys parses an armored key ring. Every entity must carry a private
// key that is not protected by a passphrase, since nothing could unlock it.
func (d *Decryptor) addPGPKeys(data []byte) error {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not an armored OpenPGP key: %w", err)
	}
	if len(ring) == 0 {
		return fmt.Errorf("no OpenPGP key found")
	}
	for _, e := range ring {
		fp := fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
		if e.PrivateKey == nil {
			return fmt.Errorf("OpenPGP key %s has no private key", fp)
		}
		if e.PrivateKey.Encrypted {
			return fmt.Errorf("OpenPGP key %s is protected by a passphrase, which is not supported", fp)
		}
		for _, sk := range e.Subkeys {
			if sk.PrivateKey != nil && sk.PrivateKey.Encrypted {
				return fmt.Errorf("OpenPGP key %s has a subkey protected by a passphrase, which is not supported", fp)
			}
		}
	}
	d.pgpKeys = append(d.pgpKeys, ring...)
	return nil
}
