package kustomization

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// sopsEncrypt encrypts plain for an age recipient as `sops --encrypt` does.
func sopsEncrypt(t *testing.T, plain []byte, recipient string, dotEnv bool, everything ...bool) string {
	t.Helper()
	var store interface {
		sops.PlainFileLoader
		sops.EncryptedFileEmitter
	} = sopsyaml.NewStore(&config.YAMLStoreConfig{})
	if dotEnv {
		store = dotenv.NewStore(&config.DotenvStoreConfig{})
	}
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sopsage.MasterKeyFromRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	md := sops.Metadata{KeyGroups: []sops.KeyGroup{{k}}, Version: "3.13.3"}
	if dotEnv || len(everything) > 0 {
		md.UnencryptedSuffix = sops.DefaultUnencryptedSuffix
	} else {
		md.EncryptedRegex = "^(data|stringData)$" // as Flux's guide has it
	}
	tree := sops.Tree{Branches: branches, Metadata: md}
	dataKey := make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		t.Fatal(err)
	}
	if err := k.Encrypt(dataKey); err != nil {
		t.Fatal(err)
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestSOPSDecryption(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	const password = "correct-horse-battery-staple"
	secret := sopsEncrypt(t, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: "+password+"\n"), id.Recipient().String(), false)
	envFile := sopsEncrypt(t, []byte("API_TOKEN=tok-"+password+"\n"), id.Recipient().String(), true)
	forOther := sopsEncrypt(t, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\nstringData:\n  password: "+password+"\n"), other.Recipient().String(), false)
	allEncrypted := sopsEncrypt(t, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: whole\nstringData:\n  password: "+password+"\n"), id.Recipient().String(), false, true)
	rev := "main@sha1:1212121212121212121212121212121212121212"
	a.publish(t, ns, "repo", rev, map[string]string{
		"app/kustomization.yaml": "resources: [db.yaml]\nsecretGenerator:\n- name: api\n  envs: [api.env]\ngeneratorOptions:\n  disableNameSuffixHash: true\n",
		"app/db.yaml":            secret,
		"app/api.env":            envFile,
		"wrong/other.yaml":       forOther,
		"whole/x.yaml":           allEncrypted,
	})
	mustCreate := func(o client.Object) {
		t.Helper()
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(testenv.Secret(ns, "sops-keys", map[string]string{"identity.agekey": id.String()}))

	t.Run("decrypts Secrets and secretGenerator files", func(t *testing.T) {
		g := NewWithT(t)
		k := testenv.Kustomization(ns, "app", "repo", "./app", func(k *kustomizev1.Kustomization) {
			k.Spec.TargetNamespace = ns
			k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}
		})
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
		got := &corev1.Secret{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, got)).To(Succeed())
		g.Expect(string(got.Data["password"])).To(Equal(password))
		g.Expect(got.Data).NotTo(HaveKey("sops"))
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, got)).To(Succeed())
		g.Expect(string(got.Data["API_TOKEN"])).To(Equal("tok-" + password))
	})
	failures := []struct {
		name, path, msg string
		decryption      *kustomizev1.Decryption
	}{
		{"no decryption meets an encrypted Secret", "./app", "", nil},
		{"encrypted for another recipient", "./wrong", "", &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}},
		{"every field encrypted kind and name included", "./whole", "", &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-keys"}}},
		{"missing key secret", "./app", "not found", &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "absent"}}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			name := strings.ToLower(strings.ReplaceAll(tt.name, " ", "-"))
			k := testenv.Kustomization(ns, name, "repo", tt.path, func(k *kustomizev1.Kustomization) {
				k.Spec.TargetNamespace = ns
				k.Spec.NamePrefix = name + "-"
				k.Spec.Decryption = tt.decryption
			})
			g.Expect(env.Client.Create(ctx, k)).To(Succeed())
			g.Eventually(func(g Gomega) {
				got := &kustomizev1.Kustomization{}
				g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
				g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue(), conditions.GetMessage(got, meta.ReadyCondition))
				g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(meta.BuildFailedReason))
				msg := conditions.GetMessage(got, meta.ReadyCondition)
				g.Expect(msg).To(ContainSubstring(tt.msg))
				g.Expect(msg).NotTo(ContainSubstring(password), "no plaintext in the status")
				g.Expect(got.Status.Inventory).To(BeNil(), "nothing applied")
			}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		})
	}
}
