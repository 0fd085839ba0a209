package decrypt

import "errors"

// The reasons a decryption fails. Every error this package returns wraps
// exactly one of them, so callers can tell a configuration problem from a
// broken document with errors.Is; none of them is worth retrying until the
// source or the decryption Secret changes.
var (
	// ErrEncrypted: a SOPS-encrypted Secret reached a point where it would be
	// applied as ciphertext.
	ErrEncrypted = errors.New("object is SOPS-encrypted")
	// ErrInvalidKey: a key in the decryption Secret cannot be used.
	ErrInvalidKey = errors.New("invalid decryption key")
	// ErrNoKey: none of the document's master keys can be opened with the
	// keys of the decryption Secret (a missing key, a wrong key, or a
	// document encrypted for other recipients).
	ErrNoKey = errors.New("no matching decryption key")
	// ErrIntegrity: the document's MAC or one of its values fails
	// authentication, or the MAC does not match the decrypted values.
	ErrIntegrity = errors.New("SOPS integrity check failed")
	// ErrMalformed: the input is not a SOPS document this package can read,
	// or it is too large.
	ErrMalformed = errors.New("malformed SOPS document")
)
