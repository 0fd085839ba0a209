package gitrepository

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// SSH remotes authenticate with the identity of spec.secretRef and trust
// only the host keys of its known_hosts.
func TestSSHAuthentication(t *testing.T) {
	start(t)
	client1, stranger := testenv.NewSSHKey(t), testenv.NewSSHKey(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "app")
	sha := repo.Commit("one", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"})
	repo.Tag("v1.0.0")
	srv := git.ServeSSH(t, client1.Signer.PublicKey())
	other := git.ServeSSH(t, client1.Signer.PublicKey())
	ns := env.Namespace(t)
	ctx := context.Background()
	secrets := map[string]map[string]string{
		"good":          {"identity": string(client1.Private), "known_hosts": srv.KnownHosts()},
		"unknown-host":  {"identity": string(client1.Private), "known_hosts": other.KnownHosts()},
		"unknown-user":  {"identity": string(stranger.Private), "known_hosts": srv.KnownHosts()},
		"no-knownhosts": {"identity": string(client1.Private)},
	}
	for name, data := range secrets {
		NewWithT(t).Expect(env.Client.Create(ctx, testenv.Secret(ns, name, data))).To(Succeed())
	}
	tests := []struct {
		name, secret string
		ref          sourcev1.GitRepositoryRef
		reason, msg  string // empty: ready
	}{
		{"branch", "good", sourcev1.GitRepositoryRef{Branch: "main"}, "", ""},
		{"tag", "good", sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "", ""},
		{"commit", "good", sourcev1.GitRepositoryRef{Commit: sha}, "", ""},
		{"unknown-host", "unknown-host", sourcev1.GitRepositoryRef{Branch: "main"}, sourcev1.GitOperationFailedReason, "knownhosts: key is unknown"},
		{"unknown-user", "unknown-user", sourcev1.GitRepositoryRef{Branch: "main"}, sourcev1.GitOperationFailedReason, "unable to authenticate"},
		{"no-knownhosts", "no-knownhosts", sourcev1.GitRepositoryRef{Branch: "main"}, sourcev1.AuthenticationFailedReason, "failed to configure authentication options: invalid secret: 'known_hosts' is required for ssh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			ref := tt.ref
			obj := testenv.GitRepository(ns, tt.name, srv.URL("app"), func(o *sourcev1.GitRepository) {
				o.Spec.Reference = &ref
				o.Spec.SecretRef = &meta.LocalObjectReference{Name: tt.secret}
			})
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			key := client.ObjectKeyFromObject(obj)
			if tt.reason == "" {
				got := waitReadyAny(t, key)
				g.Expect(got.Status.Artifact.Revision).To(HaveSuffix("sha1:" + sha))
				g.Expect(testenv.TarNames(t, fetch(t, got.Status.Artifact.URL))).To(ContainElement("deploy/cm.yaml"))
				return
			}
			got := waitFailed(t, key, tt.reason)
			g.Expect(conditions.IsTrue(got, sourcev1.FetchFailedCondition)).To(BeTrue())
			g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(tt.msg))
			g.Expect(got.Status.Artifact).To(BeNil())
		})
	}
}
