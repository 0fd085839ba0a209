package engine

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// TestImage runs `make image` against a local registry and checks what it
// pushed: a linux/amd64 image whose entrypoint is the engine binary (which
// runs), with a non-root user and CA certificates; and that config/default,
// given the pushed reference as its image, deploys exactly that. It needs ko
// and the base builder (`make test-image` builds them and runs it); without
// them it is skipped.
func TestImage(t *testing.T) {
	for _, tool := range []string{"ko", "weir-base"} {
		if _, err := os.Stat(filepath.Join("..", "bin", tool)); err != nil {
			t.Skipf("bin/%s is missing: `make test-image` builds it and runs this test", tool)
		}
	}
	g := NewWithT(t)
	reg := testenv.StartRegistry(t)
	repo := reg.Host + "/weir-engine"
	refFile := filepath.Join(t.TempDir(), "image.ref")
	build := exec.Command("make", "--no-print-directory", "image", "KO_DOCKER_REPO="+repo, "IMAGE_REF_FILE="+refFile)
	build.Dir = ".."
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "make image:\n%s", out)
	b, err := os.ReadFile(refFile)
	g.Expect(err).NotTo(HaveOccurred())
	ref, err := name.NewDigest(strings.TrimSpace(string(b)))
	g.Expect(err).NotTo(HaveOccurred(), "ko writes a reference with a digest")
	g.Expect(ref.Context().String()).To(Equal(repo))

	img, err := remote.Image(ref)
	g.Expect(err).NotTo(HaveOccurred())
	cf, err := img.ConfigFile()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(cf.OS + "/" + cf.Architecture).To(Equal("linux/amd64"))
	g.Expect(cf.Config.Entrypoint).To(Equal([]string{"/ko-app/engine"}))
	g.Expect(cf.Config.User).To(Equal("65532:65532"), "runs as the non-root user config/manager's runAsUser names")
	layers, err := img.Layers()
	g.Expect(err).NotTo(HaveOccurred())
	for _, l := range layers {
		mt, err := l.MediaType()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(mt).To(Equal(types.OCILayer), "an OCI manifest holds OCI layers only")
	}
	bin := filepath.Join(t.TempDir(), "engine")
	files := imageFiles(t, img, "ko-app/engine", bin)
	g.Expect(files).To(HaveKeyWithValue("ko-app/engine", BeNumerically(">", 10<<20)))
	// The entrypoint is a static binary that runs here, on linux/amd64.
	version, err := exec.Command(bin, "version").CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", version)
	g.Expect(string(version)).To(MatchRegexp(`^engine \S+ \(go1\.\d+`))
	g.Expect(files).To(HaveKeyWithValue("etc/ssl/certs/ca-certificates.crt", BeNumerically(">", 0)))
	g.Expect(files).To(HaveKey("etc/passwd"))

	// An overlay of config/default that names the pushed image deploys it.
	dir := t.TempDir()
	abs, err := filepath.Abs("../config/default")
	g.Expect(err).NotTo(HaveOccurred())
	base, err := filepath.Rel(dir, abs) // kustomize takes no absolute bases
	g.Expect(err).NotTo(HaveOccurred())
	overlay := "resources:\n  - " + base + "\nimages:\n  - name: weir-engine\n    newName: " + repo + "\n    digest: " + ref.DigestStr() + "\n"
	g.Expect(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644)).To(Succeed())
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	g.Expect(err).NotTo(HaveOccurred())
	var deploy *appsv1.Deployment
	for _, r := range resMap.Resources() {
		if r.GetKind() == "Deployment" {
			m, err := r.Map()
			g.Expect(err).NotTo(HaveOccurred())
			deploy = &appsv1.Deployment{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(m, deploy)).To(Succeed())
		}
	}
	g.Expect(deploy).NotTo(BeNil())
	g.Expect(deploy.Spec.Template.Spec.Containers[0].Image).To(Equal(repo + "@" + ref.DigestStr()))
	g.Expect(*deploy.Spec.Template.Spec.SecurityContext.RunAsUser).To(BeEquivalentTo(65532))
}

// imageFiles lists the regular files of img's flattened file system with
// their sizes, and copies the file named keep to the path to, executable.
func imageFiles(t *testing.T, img v1.Image, keep, to string) map[string]int64 {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("reading the image's files: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(h.Name, "/")
		files[name] = h.Size
		if name == keep {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, b, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}
