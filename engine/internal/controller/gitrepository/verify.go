package gitrepository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"golang.org/x/crypto/ssh"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
)

// Reasons of the SourceVerified condition, as source-controller reports them.
const (
	verificationErrorReason       = "VerificationError"
	invalidVerificationModeReason = "InvalidVerificationMode"
	invalidGitObjectReason        = "InvalidGitObject"
	invalidTagSignatureReason     = "InvalidTagSignature"
	invalidCommitSignatureReason  = "InvalidCommitSignature"
)

// sshKeySuffix marks the Secret entries that hold SSH public keys (in
// authorized_keys format); every other entry is an armored OpenPGP key ring.
const sshKeySuffix = ".sshpub"

const (
	pgpArmor = "-----BEGIN PGP SIGNATURE-----"
	sshArmor = "-----BEGIN SSH SIGNATURE-----"
)

// trustedKeys are the public keys of spec.verify.secretRef.
type trustedKeys struct {
	pgp openpgp.EntityList
	ssh []ssh.PublicKey
	// pgpErr is the first key ring that failed to parse; it is reported
	// only when no ring parsed at all.
	pgpErr error
}

func parseTrustedKeys(data map[string][]byte) (trustedKeys, error) {
	var k trustedKeys
	for name, v := range data {
		if strings.HasSuffix(name, sshKeySuffix) {
			keys, err := parseAuthorizedKeys(v)
			if err != nil {
				return k, fmt.Errorf("invalid '%s': %w", name, err)
			}
			k.ssh = append(k.ssh, keys...)
			continue
		}
		ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(v))
		if err != nil {
			if k.pgpErr == nil {
				k.pgpErr = fmt.Errorf("unable to read armored key ring '%s': %w", name, err)
			}
			continue
		}
		k.pgp = append(k.pgp, ring...)
	}
	return k, nil
}

// verify checks one commit or tag signature and returns the id of the key
// that made it: the OpenPGP key id, or the SSH key's SHA256 fingerprint.
func (k trustedKeys) verify(o SignedObject) (string, error) {
	sig := strings.TrimSpace(o.Signature)
	switch {
	case sig == "":
		return "", errors.New("object is not signed")
	case strings.HasPrefix(sig, pgpArmor):
		if len(k.pgp) == 0 {
			if k.pgpErr != nil {
				return "", k.pgpErr
			}
			return "", errors.New("unable to verify openpgp signature: the secret holds no PGP public keys")
		}
		signer, err := openpgp.CheckArmoredDetachedSignature(k.pgp, bytes.NewReader(o.Payload), strings.NewReader(sig), nil)
		if err != nil {
			return "", fmt.Errorf("unable to verify payload with any of the given key rings: %w", err)
		}
		return signer.PrimaryKey.KeyIdString(), nil
	case strings.HasPrefix(sig, sshArmor):
		if len(k.ssh) == 0 {
			return "", fmt.Errorf("unable to verify SSH signature: the secret holds no SSH public keys (entries ending in %s)", sshKeySuffix)
		}
		return verifySSH(sig, o.Payload, k.ssh)
	default:
		return "", errors.New("unsupported signature format: only openpgp and ssh signatures can be verified")
	}
}

// tagString names a tag as source-controller does: name@hash, or just the
// name for a lightweight tag.
func tagString(t *SignedObject) string {
	if t.Hash == "" {
		return t.Name
	}
	return t.Name + "@" + t.Hash
}

// verifyStep verifies the checked out commit and/or tag as spec.verify
// asks. A failure leaves SourceVerified False and stops the reconcile
// before anything is archived.
func (r *Reconciler) verifyStep(ctx context.Context, o *sourcev1.GitRepository, s *state) error {
	v := o.Spec.Verification
	if v == nil {
		o.Status.SourceVerificationMode = nil
		conditions.Delete(o, sourcev1.SourceVerifiedCondition)
		return nil
	}
	if s.upToDate {
		return nil // the stored artifact was verified with this mode
	}
	fail := func(reason string, stall bool, err error) error {
		conditions.MarkFalse(o, sourcev1.SourceVerifiedCondition, reason, "%s", err.Error())
		if stall {
			return reconcile.Stall(reason, err)
		}
		return reconcile.Retry(reason, err)
	}
	data, err := r.secretData(ctx, o.Namespace, v.SecretRef.Name)
	if err != nil {
		return fail(verificationErrorReason, false, fmt.Errorf("PGP public keys secret error: %w", err))
	}
	keys, err := parseTrustedKeys(data)
	if err != nil {
		return fail(verificationErrorReason, false, fmt.Errorf("PGP public keys secret error: %w", err))
	}
	c := s.checkout
	var msg strings.Builder
	msg.WriteString("verified signature of")
	if v.VerifyTag() {
		if c.Tag == nil {
			return fail(invalidVerificationModeReason, true,
				errors.New("cannot verify tag object's signature if a tag reference is not specified"))
		}
		if c.Tag.Signature == "" {
			return fail(invalidGitObjectReason, false,
				fmt.Errorf("cannot verify signature of tag '%s' since it is not signed", tagString(c.Tag)))
		}
		id, err := keys.verify(*c.Tag)
		if err != nil {
			return fail(invalidTagSignatureReason, false,
				fmt.Errorf("signature verification of tag '%s' failed: %w", tagString(c.Tag), err))
		}
		fmt.Fprintf(&msg, "\n\t- tag '%s' with key '%s'", tagString(c.Tag), id)
	}
	if v.VerifyHEAD() {
		id, err := keys.verify(c.Commit)
		if err != nil {
			return fail(invalidCommitSignatureReason, false,
				fmt.Errorf("signature verification of commit '%s' failed: %w", c.Commit.Hash, err))
		}
		fmt.Fprintf(&msg, "\n\t- commit '%s' with key '%s'", c.Commit.Hash, id)
	}
	mode := v.GetMode()
	o.Status.SourceVerificationMode = &mode
	conditions.MarkTrue(o, sourcev1.SourceVerifiedCondition, meta.SucceededReason, "%s", msg.String())
	return nil
}

// verifiedFor reports whether the stored artifact was verified in a way
// that covers what spec.verify asks now.
func verifiedFor(o *sourcev1.GitRepository) bool {
	v := o.Spec.Verification
	if v == nil {
		return true
	}
	seen := o.Status.SourceVerificationMode
	if seen == nil || !conditions.IsTrue(o, sourcev1.SourceVerifiedCondition) {
		return false
	}
	switch *seen {
	case sourcev1.ModeGitTagAndHEAD:
		return true
	case sourcev1.ModeGitTag:
		return v.GetMode() == sourcev1.ModeGitTag
	default:
		return v.GetMode() == sourcev1.ModeGitHEAD
	}
}
