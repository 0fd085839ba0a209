package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/weir-gitops/weir/engine/internal/reconcile"
	"github.com/weir-gitops/weir/engine/internal/source/git"
)

// Reasons of the SourceVerified condition, as source-controller reports them.
const (
	verificationErrorReason       = "VerificationError"
	invalidVerificationModeReason = "InvalidVerificationMode"
	invalidGitObjectReason        = "InvalidGitObject"
	invalidTagSignatureReason     = "InvalidTagSignature"
	invalidCommitSignatureReason  = "InvalidCommitSignature"
)

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
	keys, err := git.ParseKeys(data)
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
				fmt.Errorf("cannot verify signature of tag '%s' since it is not signed", c.Tag.String()))
		}
		id, err := keys.Verify(*c.Tag)
		if err != nil {
			return fail(invalidTagSignatureReason, false,
				fmt.Errorf("signature verification of tag '%s' failed: %w", c.Tag.String(), err))
		}
		fmt.Fprintf(&msg, "\n\t- tag '%s' with key '%s'", c.Tag.String(), id)
	}
	if v.VerifyHEAD() {
		id, err := keys.Verify(c.Commit)
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
