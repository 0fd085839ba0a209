// Command base builds the engine image's base and pushes it: one layer with
// the CA certificates of the build machine, an /etc/passwd and /etc/group
// naming the non-root user 65532 (nonroot), its home and a /tmp, and a
// config for linux/amd64 that runs as that user. It needs no Docker engine
// and pulls nothing, so `make image` works where no base image can be
// downloaded. The layer's timestamps are fixed: the same certificates give
// the same digest. It prints the pushed reference with its digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the image runs as, the one distroless and Chainguard images
// call nonroot.
const (
	uid  = 65532
	user = "nonroot"
)

func main() {
	ref := flag.String("push", "", "Reference to push the base image to, e.g. 127.0.0.1:5001/weir-engine-base:v1.")
	certs := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to include (Debian's ca-certificates package).")
	flag.Parse()
	if *ref == "" {
		log.Fatal("base: -push is required")
	}
	out, err := run(*ref, *certs)
	if err != nil {
		log.Fatalf("base: %v", err)
	}
	fmt.Println(out)
}

func run(ref, certsPath string) (string, error) {
	tag, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing %q: %w", ref, err)
	}
	certs, err := os.ReadFile(certsPath)
	if err != nil {
		return "", fmt.Errorf("reading the CA certificates: %w", err)
	}
	img, err := image(certs)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return tag.Context().Digest(d.String()).String(), nil
}

func image(certs []byte) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		b, err := files(certs)
		return io.NopCloser(bytes.NewReader(b)), err
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("creating the layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = fmt.Sprintf("%d:%d", uid, uid)
	cf.Config.WorkingDir = "/home/" + user
	cf.Config.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"HOME=/home/" + user,
	}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.description": "CA certificates and a non-root user, nothing else"}
	return mutate.ConfigFile(img, cf)
}

// files is the layer: a tar of the few files and directories a static Go
// binary needs, all with the Unix epoch as their time.
func files(certs []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dir := func(p string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode, Uid: owner, Gid: owner, ModTime: epoch})
	}
	file := func(p string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(b)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", user, uid, uid, user, user)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", user, uid)
	for _, step := range []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error { return file("etc/passwd", []byte(passwd)) },
		func() error { return file("etc/group", []byte(group)) },
		func() error { return dir("etc/ssl/", 0o755, 0) },
		func() error { return dir("etc/ssl/certs/", 0o755, 0) },
		func() error { return file("etc/ssl/certs/ca-certificates.crt", certs) },
		func() error { return dir("home/", 0o755, 0) },
		func() error { return dir("home/"+user+"/", 0o700, uid) },
		func() error { return dir("tmp/", 0o1777, 0) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
