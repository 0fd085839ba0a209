package decrypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/shamir"
)

// dataKeySize is the length of a SOPS data key (AES-256).
const dataKeySize = 32

// maxWrappedKeySize bounds what a master key's ciphertext may decrypt to; a
// data key or a Shamir part is a few dozen bytes.
const maxWrappedKeySize = 1024

// dataKey recovers the document's data key from its key groups, trying age
// before OpenPGP in each group as SOPS does. With several groups the key is
// split with Shamir's scheme and a threshold of groups must open.
func (d *Decryptor) dataKey(m *sops.Metadata) ([]byte, error) {
	if len(m.KeyGroups) == 0 {
		return nil, fmt.Errorf("%w: no master keys in the sops metadata", ErrMalformed)
	}
	var (
		parts  [][]byte
		failed []string
	)
	for _, group := range m.KeyGroups {
		part, err := d.openGroup(group)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		parts = append(parts, part)
	}
	var key []byte
	if len(m.KeyGroups) == 1 {
		if len(parts) != 1 {
			return nil, d.noKeyError(failed)
		}
		key = parts[0]
	} else {
		need := m.ShamirThreshold
		if need <= 0 {
			need = len(m.KeyGroups)
		}
		if len(parts) < need {
			return nil, d.noKeyError(append(failed, fmt.Sprintf("%d of %d key groups needed, %d opened", need, len(m.KeyGroups), len(parts))))
		}
		var err error
		if key, err = shamir.Combine(parts); err != nil {
			return nil, fmt.Errorf("%w: the key group parts do not combine into a data key", ErrIntegrity)
		}
	}
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("%w: the data key has %d bytes, want %d", ErrIntegrity, len(key), dataKeySize)
	}
	return key, nil
}

func (d *Decryptor) noKeyError(reasons []string) error {
	if !d.HasKeys() {
		return fmt.Errorf("%w: the decryption Secret holds no %s or %s key; tried %s", ErrNoKey, AgeKeySuffix, PGPKeySuffix, strings.Join(reasons, "; "))
	}
	return fmt.Errorf("%w: %s", ErrNoKey, strings.Join(reasons, "; "))
}

// openGroup returns the data key (or Shamir part) from the first master key
// of the group that one of our keys opens. Its error lists each master key
// by its public identifier and why it did not open.
func (d *Decryptor) openGroup(group sops.KeyGroup) ([]byte, error) {
	var (
		ageKeys []*sopsage.MasterKey
		pgpKeys []*pgp.MasterKey
		reasons []string
	)
	for _, k := range group {
		switch k := k.(type) {
		case *sopsage.MasterKey:
			ageKeys = append(ageKeys, k)
		case *pgp.MasterKey:
			pgpKeys = append(pgpKeys, k)
		default:
			reasons = append(reasons, fmt.Sprintf("%s master key: not supported (only age and OpenPGP are)", keyType(k)))
		}
	}
	for _, k := range ageKeys {
		part, err := d.openAge(k)
		if err == nil {
			return part, nil
		}
		reasons = append(reasons, fmt.Sprintf("age recipient %s: %v", k.Recipient, err))
	}
	for _, k := range pgpKeys {
		part, err := d.openPGP(k)
		if err == nil {
			return part, nil
		}
		reasons = append(reasons, fmt.Sprintf("OpenPGP key %s: %v", k.Fingerprint, err))
	}
	if len(reasons) == 0 {
		return nil, errors.New("empty key group")
	}
	return nil, errors.New(strings.Join(reasons, ", "))
}

func keyType(k keys.MasterKey) (t string) {
	defer func() {
		if recover() != nil {
			t = "unknown"
		}
	}()
	return k.TypeToIdentifier()
}

// openAge decrypts an age-wrapped data key with the Secret's identities
// only; unlike the SOPS key source it never falls back to the environment,
// the user's key files or SSH keys.
func (d *Decryptor) openAge(k *sopsage.MasterKey) ([]byte, error) {
	if len(d.ageIdentities) == 0 {
		return nil, errors.New("no age identity in the decryption Secret")
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(k.EncryptedKey)), d.ageIdentities...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, errors.New("no identity in the decryption Secret matches")
		}
		return nil, errors.New("the wrapped data key cannot be read")
	}
	return readKey(r)
}

// openPGP decrypts an OpenPGP-wrapped data key with the Secret's private
// keys, in memory, without gpg or a key ring on disk.
func (d *Decryptor) openPGP(k *pgp.MasterKey) ([]byte, error) {
	if len(d.pgpKeys) == 0 {
		return nil, errors.New("no OpenPGP private key in the decryption Secret")
	}
	block, err := pgparmor.Decode(strings.NewReader(k.EncryptedKey))
	if err != nil {
		return nil, errors.New("the wrapped data key is not armored OpenPGP")
	}
	md, err := openpgp.ReadMessage(block.Body, d.pgpKeys, nil, nil)
	if err != nil {
		return nil, errors.New("no private key in the decryption Secret opens it")
	}
	return readKey(md.UnverifiedBody)
}

func readKey(r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(r, maxWrappedKeySize+1)); err != nil {
		return nil, errors.New("the wrapped data key fails authentication")
	}
	if b.Len() > maxWrappedKeySize {
		return nil, errors.New("the wrapped data key is too large")
	}
	return b.Bytes(), nil
}
