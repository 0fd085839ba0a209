package gitrepository

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// waitFailed waits until the object is not Ready for reason and returns it.
func waitFailed(t *testing.T, key client.ObjectKey, reason string) *sourcev1.GitRepository {
	t.Helper()
	got := &sourcev1.GitRepository{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), key, got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue(), "ready: %s", conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(reason), conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
	return got
}

func verifyWith(mode sourcev1.GitVerificationMode, secret string, ref sourcev1.GitRepositoryRef) func(*sourcev1.GitRepository) {
	return func(o *sourcev1.GitRepository) {
		o.Spec.Reference = &ref
		o.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: mode, SecretRef: meta.LocalObjectReference{Name: secret}}
	}
}

func TestVerifySignatures(t *testing.T) {
	start(t)
	trusted, stranger := testenv.NewPGPKey(t, "trusted"), testenv.NewPGPKey(t, "stranger")
	sshTrusted, sshStranger := testenv.NewSSHKey(t), testenv.NewSSHKey(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "signed")
	good := repo.SignedCommit("good", map[string]string{"a.yaml": "a: 1\n"}, trusted)
	repo.SignedTag("v1-good", trusted)
	repo.SignedTag("v1-stranger", stranger)
	repo.AnnotatedTag("v1-unsigned")
	repo.Tag("v1-light")
	goodTag := repo.Git("rev-parse", "v1-good")

	repo.Git("checkout", "--quiet", "-b", "unsigned")
	unsigned := repo.Commit("unsigned", map[string]string{"a.yaml": "a: 2\n"})
	repo.SignedTag("v2-good-tag-unsigned-commit", trusted)
	repo.Git("checkout", "--quiet", "-b", "stranger", "main")
	strangers := repo.SignedCommit("stranger", map[string]string{"a.yaml": "a: 3\n"}, stranger)
	repo.Git("checkout", "--quiet", "-b", "ssh", "main")
	sshGood := repo.SSHSignedCommit("ssh", map[string]string{"a.yaml": "a: 4\n"}, sshTrusted)
	repo.SSHSignedTag("v3-ssh", sshTrusted)
	sshTag := repo.Git("rev-parse", "v3-ssh")
	repo.Git("checkout", "--quiet", "-b", "ssh-stranger", "main")
	sshStrangers := repo.SSHSignedCommit("ssh stranger", map[string]string{"a.yaml": "a: 5\n"}, sshStranger)

	ns := env.Namespace(t)
	ctx := context.Background()
	NewWithT(t).Expect(env.Client.Create(ctx, testenv.Secret(ns, "keys", map[string]string{
		"author.asc": trusted.Public, "author.sshpub": sshTrusted.Authorized,
	}))).To(Succeed())

	tests := []struct {
		name   string
		mode   sourcev1.GitVerificationMode
		ref    sourcev1.GitRepositoryRef
		secret string
		reason string // empty: verified
		msg    []string
	}{
		{"head-pgp", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "main"}, "keys", "",
			[]string{"verified signature of\n\t- commit '" + good + "' with key '" + trusted.ID + "'"}},
		{"head-legacy-lowercase", "head", sourcev1.GitRepositoryRef{Branch: "main"}, "keys", "",
			[]string{"- commit '" + good + "'"}},
		{"head-unsigned", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "unsigned"}, "keys", invalidCommitSignatureReason,
			[]string{"signature verification of commit '" + unsigned + "' failed", "not signed"}},
		{"head-untrusted-pgp", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "stranger"}, "keys", invalidCommitSignatureReason,
			[]string{"signature verification of commit '" + strangers + "' failed"}},
		{"head-ssh", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "ssh"}, "keys", "",
			[]string{"- commit '" + sshGood + "' with key '" + sshTrusted.Fingerprint + "'"}},
		{"head-untrusted-ssh", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "ssh-stranger"}, "keys", invalidCommitSignatureReason,
			[]string{"signature verification of commit '" + sshStrangers + "' failed", "not among the trusted SSH keys"}},
		{"tag-pgp", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Tag: "v1-good"}, "keys", "",
			[]string{"verified signature of\n\t- tag 'v1-good@" + goodTag + "' with key '" + trusted.ID + "'"}},
		{"tag-by-ref-name", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Name: "refs/tags/v1-good"}, "keys", "",
			[]string{"- tag 'v1-good@" + goodTag + "'"}},
		{"tag-untrusted", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Tag: "v1-stranger"}, "keys", invalidTagSignatureReason,
			[]string{"signature verification of tag 'v1-stranger@"}},
		{"tag-unsigned", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Tag: "v1-unsigned"}, "keys", invalidGitObjectReason,
			[]string{"cannot verify signature of tag 'v1-unsigned@", "since it is not signed"}},
		{"tag-lightweight", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Tag: "v1-light"}, "keys", invalidGitObjectReason,
			[]string{"cannot verify signature of tag 'v1-light' since it is not signed"}},
		{"tag-mode-on-branch", sourcev1.ModeGitTag, sourcev1.GitRepositoryRef{Branch: "main"}, "keys", invalidVerificationModeReason,
			[]string{"cannot verify tag object's signature if a tag reference is not specified"}},
		{"tag-and-head-pgp", sourcev1.ModeGitTagAndHEAD, sourcev1.GitRepositoryRef{Tag: "v1-good"}, "keys", "",
			[]string{"verified signature of\n\t- tag 'v1-good@" + goodTag + "' with key '" + trusted.ID + "'\n\t- commit '" + good + "' with key '" + trusted.ID + "'"}},
		{"tag-and-head-unsigned-commit", sourcev1.ModeGitTagAndHEAD, sourcev1.GitRepositoryRef{Tag: "v2-good-tag-unsigned-commit"}, "keys", invalidCommitSignatureReason,
			[]string{"signature verification of commit '" + unsigned + "' failed"}},
		{"tag-and-head-ssh", sourcev1.ModeGitTagAndHEAD, sourcev1.GitRepositoryRef{Tag: "v3-ssh"}, "keys", "",
			[]string{"- tag 'v3-ssh@" + sshTag + "' with key '" + sshTrusted.Fingerprint + "'\n\t- commit '" + sshGood + "'"}},
		{"missing-secret", sourcev1.ModeGitHEAD, sourcev1.GitRepositoryRef{Branch: "main"}, "absent", verificationErrorReason,
			[]string{"PGP public keys secret error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, tt.name, git.URL("signed"), verifyWith(tt.mode, tt.secret, tt.ref))
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			key := client.ObjectKeyFromObject(obj)
			if tt.reason == "" {
				got := waitReadyAny(t, key)
				g.Expect(conditions.IsTrue(got, sourcev1.SourceVerifiedCondition)).To(BeTrue())
				g.Expect(conditions.GetReason(got, sourcev1.SourceVerifiedCondition)).To(Equal(meta.SucceededReason))
				for _, m := range tt.msg {
					g.Expect(conditions.GetMessage(got, sourcev1.SourceVerifiedCondition)).To(ContainSubstring(m))
				}
				g.Expect(got.Status.SourceVerificationMode).NotTo(BeNil())
				g.Expect(*got.Status.SourceVerificationMode).To(Equal((&sourcev1.GitRepositoryVerification{Mode: tt.mode}).GetMode()))
				return
			}
			got := waitFailed(t, key, tt.reason)
			g.Expect(got.Status.Artifact).To(BeNil(), "no artifact may be stored without a good signature")
			g.Expect(conditions.IsFalse(got, sourcev1.SourceVerifiedCondition)).To(BeTrue())
			g.Expect(conditions.GetReason(got, sourcev1.SourceVerifiedCondition)).To(Equal(tt.reason))
			for _, m := range tt.msg {
				g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(m))
			}
			g.Expect(conditions.IsStalled(got)).To(Equal(tt.reason == invalidVerificationModeReason))
		})
	}
}

// A commit that fails verification never replaces the last verified
// artifact; the next good one does.
func TestVerifyKeepsLastVerifiedArtifact(t *testing.T) {
	g := NewWithT(t)
	start(t)
	key := testenv.NewPGPKey(t, "trusted")
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	first := repo.SignedCommit("first", map[string]string{"a.yaml": "a: 1\n"}, key)
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "keys", map[string]string{"author.asc": key.Public}))).To(Succeed())
	obj := testenv.GitRepository(ns, "app", git.URL("app"), verifyWith(sourcev1.ModeGitHEAD, "keys", sourcev1.GitRepositoryRef{Branch: "main"}))
	g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
	objKey := client.ObjectKeyFromObject(obj)
	verified := waitReady(t, objKey, "main@sha1:"+first)

	bad := repo.Commit("unsigned", map[string]string{"a.yaml": "a: 666\n"})
	requestReconcile(t, objKey, "bad")
	got := waitFailed(t, objKey, invalidCommitSignatureReason)
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(bad))
	g.Expect(got.Status.Artifact.Revision).To(Equal(verified.Status.Artifact.Revision))
	g.Expect(got.Status.Artifact.Digest).To(Equal(verified.Status.Artifact.Digest))

	next := repo.SignedCommit("fixed", map[string]string{"a.yaml": "a: 2\n"}, key)
	requestReconcile(t, objKey, "good")
	fixed := waitReady(t, objKey, "main@sha1:"+next)
	g.Expect(conditions.IsTrue(fixed, sourcev1.SourceVerifiedCondition)).To(BeTrue())

	// Dropping spec.verify drops the verification status with it.
	p := client.MergeFrom(fixed.DeepCopy())
	fixed.Spec.Verification = nil
	g.Expect(env.Client.Patch(ctx, fixed, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		o := &sourcev1.GitRepository{}
		g.Expect(env.Client.Get(ctx, objKey, o)).To(Succeed())
		g.Expect(o.Status.ObservedGeneration).To(Equal(o.Generation))
		g.Expect(conditions.Has(o, sourcev1.SourceVerifiedCondition)).To(BeFalse())
		g.Expect(o.Status.SourceVerificationMode).To(BeNil())
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
}

func waitReadyAny(t *testing.T, key client.ObjectKey) *sourcev1.GitRepository {
	t.Helper()
	got := &sourcev1.GitRepository{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(context.Background(), key, got)).To(Succeed())
		g.Expect(conditions.IsReady(got)).To(BeTrue(), "ready: %s", conditions.GetMessage(got, meta.ReadyCondition))
		g.Expect(got.Status.Artifact).NotTo(BeNil())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, 15*time.Second, 100*time.Millisecond).Should(Succeed())
	return got
}
