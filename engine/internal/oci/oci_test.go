package oci

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	. "github.com/onsi/gomega"
)

// wasmModule is the smallest valid module header; Pull does not parse Wasm.
var wasmModule = []byte("\x00asm\x01\x00\x00\x00")

func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	return u.Host
}

var testModule = Module{Name: "add-labels", Version: "0.1.0", ABIVersion: "v1", Capabilities: []string{"transform"}}

func TestPushPullRoundTrip(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	host := newRegistry(t)

	d1, err := Push(ctx, wasmModule, host+"/plugins/add-labels:v1", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	d2, err := Push(ctx, wasmModule, host+"/plugins/add-labels:v2", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d2.DigestStr()).To(Equal(d1.DigestStr()), "same module and metadata, same digest")

	r, err := Resolve(ctx, host+"/plugins/add-labels:v1")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(r.DigestStr()).To(Equal(d1.DigestStr()))

	a, err := Pull(ctx, r, Limits{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a.Wasm).To(Equal(wasmModule))
	g.Expect(a.Digest).To(Equal(d1.DigestStr()))
	g.Expect(a.Annotations).To(HaveKeyWithValue(AnnotationTitle, "add-labels"))
	g.Expect(a.Annotations).To(HaveKeyWithValue(AnnotationABIVersion, "v1"))
	g.Expect(a.Annotations).To(HaveKeyWithValue(AnnotationCapabilities, "transform"))

	desc, err := remote.Get(r)
	g.Expect(err).NotTo(HaveOccurred())
	var m v1.Manifest
	g.Expect(json.Unmarshal(desc.Manifest, &m)).To(Succeed())
	g.Expect(m.Config.MediaType).To(Equal(WasmConfigMediaType))
	g.Expect(m.Layers).To(HaveLen(1))
	g.Expect(m.Layers[0].MediaType).To(Equal(WasmLayerMediaType))
}

// putManifest writes an arbitrary manifest with the given layers.
func putManifest(t *testing.T, host, tag string, cfgMT types.MediaType, layers ...v1.Layer) name.Digest {
	t.Helper()
	repo, err := name.NewRepository(host + "/plugins/odd")
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte(`{"architecture":"wasm","os":"wasip1"}`), cfgMT)
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for i, l := range append([]v1.Layer{cfg}, layers...) {
		if err := remote.WriteLayer(repo, l); err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		desc := v1.Descriptor{MediaType: mt, Size: sz, Digest: d}
		if i == 0 {
			m.Config = desc
		} else {
			m.Layers = append(m.Layers, desc)
		}
	}
	body, _ := json.Marshal(m)
	if err := remote.Put(repo.Tag(tag), rawManifest{body: body, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	d, err := Resolve(context.Background(), repo.Tag(tag).String())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPullRefusesBadArtifacts(t *testing.T) {
	host := newRegistry(t)
	wasm := static.NewLayer(wasmModule, WasmLayerMediaType)
	big := static.NewLayer(make([]byte, 4096), WasmLayerMediaType)
	tests := []struct {
		name string
		ref  func() name.Digest
		lim  Limits
		want error
		msg  string
	}{
		{"two layers", func() name.Digest { return putManifest(t, host, "two", WasmConfigMediaType, wasm, big) }, Limits{}, ErrNotWasmArtifact, "2 layers"},
		{"container image config", func() name.Digest {
			return putManifest(t, host, "image", types.OCIConfigJSON, wasm)
		}, Limits{}, ErrNotWasmArtifact, "config media type"},
		{"tar layer", func() name.Digest {
			return putManifest(t, host, "tar", WasmConfigMediaType, static.NewLayer(wasmModule, types.OCILayer))
		}, Limits{}, ErrNotWasmArtifact, "layer media type"},
		{"layer over the cap", func() name.Digest { return putManifest(t, host, "big", WasmConfigMediaType, big) }, Limits{MaxLayerBytes: 1024}, ErrTooLarge, "4096 bytes"},
		{"manifest over the cap", func() name.Digest { return putManifest(t, host, "ok", WasmConfigMediaType, wasm) }, Limits{MaxManifestBytes: 10}, ErrTooLarge, "manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			_, err := Pull(context.Background(), tt.ref(), tt.lim)
			g.Expect(err).To(MatchError(tt.want))
			g.Expect(err.Error()).To(ContainSubstring(tt.msg))
		})
	}
}

func TestPullChecksTheDigestItAskedFor(t *testing.T) {
	g := NewWithT(t)
	host := newRegistry(t)
	d, err := Push(context.Background(), wasmModule, host+"/plugins/p:v1", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	other := d.Context().Digest("sha256:" + strings.Repeat("0", 64))
	_, err = Pull(context.Background(), other, Limits{})
	g.Expect(err).To(HaveOccurred(), "an unknown digest is never served")
}

func TestKeychainFromDockerConfig(t *testing.T) {
	g := NewWithT(t)
	auth := base64.StdEncoding.EncodeToString([]byte("bob:s3cret"))
	kc, err := KeychainFromDockerConfig([]byte(`{"auths":{"https://registry.example.com/v1/":{"auth":"` + auth + `"},"other:5000":{"username":"u","password":"p"}}}`))
	g.Expect(err).NotTo(HaveOccurred())
	for host, want := range map[string]authn.AuthConfig{
		"registry.example.com": {Username: "bob", Password: "s3cret"},
		"other:5000":           {Username: "u", Password: "p"},
		"unknown.example.com":  {},
	} {
		reg, _ := name.NewRegistry(host)
		a, err := kc.Resolve(reg)
		g.Expect(err).NotTo(HaveOccurred())
		got, err := a.Authorization()
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(*got).To(Equal(want), host)
	}

	for _, bad := range []string{`{`, `{"auths":{"h":{"auth":"***"}}}`, `{"auths":{"h":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("nocolon")) + `"}}}`} {
		_, err := KeychainFromDockerConfig([]byte(bad))
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).NotTo(ContainSubstring("nocolon"), "errors never quote credentials")
	}
}

// TestNoCredentialsAcrossRedirect serves the blob through a redirect to a
// second host and checks that the registry's credentials stay behind.
func TestNoCredentialsAcrossRedirect(t *testing.T) {
	g := NewWithT(t)
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			leaked = append(leaked, a)
		}
		_, _ = w.Write(wasmModule)
	}))
	defer other.Close()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bob" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, digestOf(wasmModule)) {
			http.Redirect(w, r, other.URL+"/blob", http.StatusTemporaryRedirect)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer front.Close()
	u, _ := url.Parse(front.URL)
	kc, err := KeychainFromDockerConfig([]byte(`{"auths":{"` + u.Host + `":{"username":"bob","password":"s3cret"}}}`))
	g.Expect(err).NotTo(HaveOccurred())

	d, err := Push(context.Background(), wasmModule, u.Host+"/plugins/p:v1", testModule, WithKeychain(kc))
	g.Expect(err).NotTo(HaveOccurred())
	a, err := Pull(context.Background(), d, Limits{}, WithKeychain(kc))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a.Wasm).To(Equal(wasmModule))
	g.Expect(leaked).To(BeEmpty(), "no Authorization header may reach another host")
}

func digestOf(b []byte) string {
	h, _, _ := v1.SHA256(strings.NewReader(string(b)))
	return h.String()
}
