package kustomization

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/engine/internal/build"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// opener reads a's artifacts as the engine's storage would read its own:
// only URLs of a's server, with tamper applied to what it reads.
func (a *artifacts) opener(tamper func([]byte) []byte) build.ArtifactOpener {
	return func(url string) (io.ReadCloser, bool, error) {
		p, ok := strings.CutPrefix(url, a.srv.URL)
		if !ok {
			return nil, false, nil
		}
		a.mu.Lock()
		b, ok := a.files[p]
		a.mu.Unlock()
		if !ok {
			return nil, false, nil
		}
		if tamper != nil {
			b = tamper(bytes.Clone(b))
		}
		return io.NopCloser(bytes.NewReader(b)), true, nil
	}
}

func artifactFailure(t *testing.T, k *kustomizev1.Kustomization, msg string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(context.Background(), client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.IsFalse(got, meta.ReadyCondition)).To(BeTrue())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(meta.ArtifactFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(msg))
		g.Expect(got.Status.Inventory).To(BeNil(), "nothing applied")
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
}

// TestArtifactFetchInProcess: an artifact of the engine's own storage is
// read in process, digest checked; one stored elsewhere goes over HTTP.
func TestArtifactFetchInProcess(t *testing.T) {
	g := NewWithT(t)
	local, remote, tampered := newArtifacts(t), newArtifacts(t), newArtifacts(t)
	open := local.opener(nil)
	startWith(t, Options{OpenArtifact: func(url string) (io.ReadCloser, bool, error) {
		if strings.HasPrefix(url, tampered.srv.URL) {
			return tampered.opener(func(b []byte) []byte { return append(b, 0) })(url)
		}
		return open(url)
	}})
	ns := env.Namespace(t)
	ctx := context.Background()
	rev := "main@sha1:5656565656565656565656565656565656565656"
	local.publish(t, ns, "local", rev, map[string]string{"a.yaml": cm("from-local")})
	remote.publish(t, ns, "remote", rev, map[string]string{"b.yaml": cm("from-remote")})
	tampered.publish(t, ns, "tampered", rev, map[string]string{"c.yaml": cm("from-tampered")})

	for _, name := range []string{"local", "remote"} {
		k := testenv.Kustomization(ns, name, name, "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
		g.Expect(env.Client.Create(ctx, k)).To(Succeed())
		waitApplied(t, client.ObjectKeyFromObject(k), rev)
	}
	g.Expect(local.hits.Load()).To(BeZero(), "the local artifact never went over HTTP")
	g.Expect(remote.hits.Load()).To(BeNumerically(">", 0), "an artifact stored elsewhere is fetched over HTTP")

	k := testenv.Kustomization(ns, "tampered", "tampered", "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	artifactFailure(t, k, "computed digest doesn't match")
	g.Expect(tampered.hits.Load()).To(BeZero(), "read in process, and still checked")
}

// TestUnsafeArtifact: an artifact holding a link out of it fails with a
// clear reason and nothing is applied.
func TestUnsafeArtifact(t *testing.T) {
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	data := []byte(cm("fine"))
	NewWithT(t).Expect(tw.WriteHeader(&tar.Header{Name: "a.yaml", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})).To(Succeed())
	_, _ = tw.Write(data)
	NewWithT(t).Expect(tw.WriteHeader(&tar.Header{Name: "passwd.yaml", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})).To(Succeed())
	_ = tw.Close()
	_ = zw.Close()
	a.publishTarball(t, ns, "repo", "main@sha1:5757575757575757575757575757575757575757", buf.Bytes())
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = ns })
	NewWithT(t).Expect(env.Client.Create(context.Background(), k)).To(Succeed())
	artifactFailure(t, k, `link "passwd.yaml" points out of the artifact to "/etc/passwd"`)
}

// TestSourceWithoutArtifactWaitsQuietly: a Kustomization whose source has
// no artifact yet says so on Ready, records no warning event (as Flux
// does not) and applies as soon as the artifact appears.
func TestSourceWithoutArtifactWaitsQuietly(t *testing.T) {
	g := NewWithT(t)
	start(t)
	a := newArtifacts(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.GitRepository(ns, "repo", "https://example.com/x.git"))).To(Succeed())
	k := testenv.Kustomization(ns, "app", "repo", "./", func(k *kustomizev1.Kustomization) {
		k.Spec.TargetNamespace = ns
		k.Spec.RetryInterval = &metav1.Duration{Duration: 10 * time.Minute} // only the watch can be quick
	})
	g.Expect(env.Client.Create(ctx, k)).To(Succeed())
	artifactFailureMsg := "Source '" + ns + "/repo' is not ready, artifact not found"
	g.Eventually(func(g Gomega) {
		got := &kustomizev1.Kustomization{}
		g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(k), got)).To(Succeed())
		g.Expect(conditions.GetReason(got, meta.ReadyCondition)).To(Equal(meta.ArtifactFailedReason))
		g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal(artifactFailureMsg))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())

	rev := "main@sha1:5858585858585858585858585858585858585858"
	a.publish(t, ns, "repo", rev, map[string]string{"a.yaml": cm("a")})
	waitApplied(t, client.ObjectKeyFromObject(k), rev)
	// Events of one recorder are delivered in order: once the success
	// event is there, a warning recorded before it would be too.
	events := func(g Gomega) []corev1.Event {
		var list corev1.EventList
		g.Expect(env.Client.List(ctx, &list, client.InNamespace(ns))).To(Succeed())
		return list.Items
	}
	g.Eventually(func(g Gomega) {
		g.Expect(events(g)).To(ContainElement(HaveField("Reason", meta.ReconciliationSucceededReason)))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(events(g)).NotTo(ContainElement(HaveField("Reason", meta.ArtifactFailedReason)))
}
