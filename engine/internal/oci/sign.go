package oci

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	cremote "github.com/sigstore/cosign/v2/pkg/cosign/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// KeyPair is a cosign key pair: the private key PEM encrypted with a
// password (scrypt + secretbox, as `cosign generate-key-pair` writes it) and
// the public key PEM.
type KeyPair struct {
	Private []byte
	Public  []byte
}

// GenerateKeyPair makes an ECDSA P-256 cosign key pair protected by password.
func GenerateKeyPair(password []byte) (KeyPair, error) {
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key pair: %w", err)
	}
	return KeyPair{Private: kb.PrivateBytes, Public: kb.PublicBytes}, nil
}

// LoadSigner decrypts a cosign private key.
func LoadSigner(private, password []byte) (signature.SignerVerifier, error) {
	sv, err := cosign.LoadPrivateKey(private, password, nil)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	return sv, nil
}

// LoadVerifier parses a PEM public key (ECDSA, RSA or Ed25519).
func LoadVerifier(public []byte) (signature.Verifier, error) {
	pk, err := cryptoutils.UnmarshalPEMToPublicKey(public)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	v, err := signature.LoadVerifier(pk, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	return v, nil
}

// Sign signs the manifest digest ref with s and attaches the signature in
// cosign's layout (the simple signing payload in a layer of the
// sha256-<hex>.sig manifest). Signing the same digest again with the same
// key adds no duplicate.
func Sign(ctx context.Context, ref name.Digest, s signature.SignerVerifier, opts ...Option) error {
	o := newOptions(ctx, opts)
	body, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	raw, err := s.SignMessage(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	sig, err := static.NewSignature(body, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	ropts := []ociremote.Option{ociremote.WithRemoteOptions(o.remote...)}
	se, err := ociremote.SignedEntity(ref, ropts...)
	if err != nil {
		return fmt.Errorf("sign %s: get signed entity: %w", ref, err)
	}
	se, err = mutate.AttachSignatureToEntity(se, sig, mutate.WithDupeDetector(cremote.NewDupeDetector(s)))
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	if err := ociremote.WriteSignatures(ref.Context(), se, ropts...); err != nil {
		return fmt.Errorf("sign %s: write signature: %w", ref, err)
	}
	return nil
}

// Policy says how many of the keys must have signed.
type Policy string

const (
	// PolicyAny accepts a signature by any one of the keys.
	PolicyAny Policy = "Any"
	// PolicyAll needs a signature by every key.
	PolicyAll Policy = "All"
)

// ErrNotVerified says the signatures do not satisfy the policy.
var ErrNotVerified = errors.New("signature verification failed")

// Verification is the outcome of Verify.
type Verification struct {
	// Verified lists the names of the keys with a valid signature.
	Verified []string
	// Failed maps the other keys to why they failed.
	Failed map[string]string
}

// Verify checks the cosign signatures attached to ref (a digest) against
// keys (name → PEM public key) under policy. Only signatures whose payload
// names exactly this digest count. The transparency log is not consulted:
// key-based signing needs none.
func Verify(ctx context.Context, ref name.Digest, keys map[string][]byte, policy Policy, opts ...Option) (Verification, error) {
	o := newOptions(ctx, opts)
	res := Verification{Failed: map[string]string{}}
	if len(keys) == 0 {
		return res, fmt.Errorf("verify %s: no public keys: %w", ref, ErrNotVerified)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, n := range names {
		v, err := LoadVerifier(keys[n])
		if err != nil {
			res.Failed[n] = err.Error()
			continue
		}
		co := &cosign.CheckOpts{
			RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(o.remote...)},
			SigVerifier:        v,
			ClaimVerifier:      cosign.SimpleClaimVerifier,
			IgnoreTlog:         true,
			IgnoreSCT:          true,
			Offline:            true,
		}
		if _, _, err := cosign.VerifyImageSignatures(ctx, ref, co); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			var nf *cosign.ErrNoSignaturesFound
			var nm *cosign.ErrNoMatchingSignatures
			switch {
			case errors.As(err, &nf):
				res.Failed[n] = "no signature found"
			case errors.As(err, &nm):
				res.Failed[n] = "no signature matches this key and digest"
			default:
				if isRegistryError(err) {
					return res, fmt.Errorf("verify %s: %w", ref, err)
				}
				res.Failed[n] = oneLine(err.Error())
			}
			continue
		}
		res.Verified = append(res.Verified, n)
	}
	ok := len(res.Verified) > 0
	if policy == PolicyAll {
		ok = len(res.Failed) == 0
	}
	if !ok {
		return res, fmt.Errorf("verify %s: %s: %w", ref, res.summary(policy, len(names)), ErrNotVerified)
	}
	return res, nil
}

func (v Verification) summary(p Policy, total int) string {
	var b strings.Builder
	if p == PolicyAll {
		fmt.Fprintf(&b, "%d of %d keys verified, policy All needs every key", len(v.Verified), total)
	} else {
		fmt.Fprintf(&b, "none of %d keys verified", total)
	}
	names := make([]string, 0, len(v.Failed))
	for n := range v.Failed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "; %s: %s", n, v.Failed[n])
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// isRegistryError tells a registry that could not be reached or answered
// with an error (retry later) from a signature that is wrong (stall).
func isRegistryError(err error) bool {
	var te *transport.Error
	var ne net.Error
	return errors.As(err, &te) || errors.As(err, &ne)
}
