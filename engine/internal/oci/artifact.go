package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the CNCF Wasm OCI artifact convention.
const (
	WasmLayerMediaType  types.MediaType = "application/vnd.wasm.content.layer.v1+wasm"
	WasmConfigMediaType types.MediaType = "application/vnd.wasm.config.v1+json"
)

// Annotations written on the manifest of a pushed plugin.
const (
	AnnotationTitle        = "org.opencontainers.image.title"
	AnnotationVersion      = "org.opencontainers.image.version"
	AnnotationDescription  = "org.opencontainers.image.description"
	AnnotationABIVersion   = "dev.weir.plugin.abi-version"
	AnnotationCapabilities = "dev.weir.plugin.capabilities"
)

// Limits cap what a pull reads from a registry.
type Limits struct {
	MaxManifestBytes int64 // default 1 MiB
	MaxLayerBytes    int64 // default 64 MiB
}

func (l Limits) withDefaults() Limits {
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = 1 << 20
	}
	if l.MaxLayerBytes <= 0 {
		l.MaxLayerBytes = 64 << 20
	}
	return l
}

// Sentinel errors, for callers that map them to conditions.
var (
	ErrNotWasmArtifact = errors.New("not a Wasm plugin artifact")
	ErrTooLarge        = errors.New("artifact exceeds the size limit")
	ErrDigestMismatch  = errors.New("content does not match its digest")
)

// Module is what Push needs to know about a module besides its bytes.
type Module struct {
	Name         string
	Version      string
	Description  string
	ABIVersion   string
	Capabilities []string
}

// Artifact is a pulled plugin module.
type Artifact struct {
	// Ref is the repository@digest reference that was pulled.
	Ref name.Digest
	// Digest is the manifest digest, "sha256:<hex>".
	Digest string
	// LayerDigest is the digest of the Wasm layer.
	LayerDigest string
	Annotations map[string]string
	Wasm        []byte
}

type wasmConfig struct {
	Created      string   `json:"created,omitempty"`
	Author       string   `json:"author,omitempty"`
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	LayerDigests []string `json:"layerDigests"`
}

// rawManifest lets remote.Put write a manifest byte for byte.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// Push uploads wasm as a plugin artifact to ref (a tag or a repository) and
// returns the digest reference of the manifest. The same module and metadata
// always give the same digest.
func Push(ctx context.Context, wasm []byte, ref string, mod Module, opts ...Option) (name.Digest, error) {
	o := newOptions(ctx, opts)
	r, err := name.ParseReference(ref, o.nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	layer := static.NewLayer(wasm, WasmLayerMediaType)
	ld, err := layer.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	cfgBody, err := json.Marshal(wasmConfig{Architecture: "wasm", OS: "wasip1", LayerDigests: []string{ld.String()}})
	if err != nil {
		return name.Digest{}, err
	}
	cfg := static.NewLayer(cfgBody, WasmConfigMediaType)
	cd, err := cfg.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	ann := map[string]string{AnnotationABIVersion: mod.ABIVersion}
	set := func(k, v string) {
		if v != "" {
			ann[k] = v
		}
	}
	set(AnnotationTitle, mod.Name)
	set(AnnotationVersion, mod.Version)
	set(AnnotationDescription, mod.Description)
	set(AnnotationCapabilities, strings.Join(mod.Capabilities, ","))
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: WasmConfigMediaType, Size: int64(len(cfgBody)), Digest: cd},
		Layers: []v1.Descriptor{{
			MediaType:   WasmLayerMediaType,
			Size:        int64(len(wasm)),
			Digest:      ld,
			Annotations: map[string]string{AnnotationTitle: fileName(mod.Name)},
		}},
		Annotations: ann,
	}
	body, err := json.Marshal(m)
	if err != nil {
		return name.Digest{}, err
	}
	repo := r.Context()
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, o.remote...); err != nil {
			return name.Digest{}, fmt.Errorf("push blob to %s: %w", repo, err)
		}
	}
	if _, isDigest := r.(name.Digest); isDigest {
		r = repo.Tag("latest")
	}
	if err := remote.Put(r, rawManifest{body: body, mt: types.OCIManifestSchema1}, o.remote...); err != nil {
		return name.Digest{}, fmt.Errorf("push manifest to %s: %w", r, err)
	}
	sum := sha256.Sum256(body)
	return repo.Digest("sha256:" + hex.EncodeToString(sum[:])), nil
}

func fileName(n string) string {
	if n == "" {
		return "plugin.wasm"
	}
	return n + ".wasm"
}

// Resolve returns the digest reference that ref (a tag or a digest) points
// at now, with one HEAD request.
func Resolve(ctx context.Context, ref string, opts ...Option) (name.Digest, error) {
	o := newOptions(ctx, opts)
	r, err := name.ParseReference(ref, o.nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	if d, ok := r.(name.Digest); ok {
		return d, nil
	}
	desc, err := remote.Head(r, o.remote...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("resolve %s: %w", r, err)
	}
	return r.Context().Digest(desc.Digest.String()), nil
}

// Pull reads the plugin artifact at ref, which must be a digest reference,
// checking its shape, its sizes and every digest before it returns.
func Pull(ctx context.Context, ref name.Digest, lim Limits, opts ...Option) (*Artifact, error) {
	o := newOptions(ctx, opts)
	lim = lim.withDefaults()
	head, err := remote.Head(ref, o.remote...)
	if err != nil {
		return nil, fmt.Errorf("get manifest %s: %w", ref, err)
	}
	if head.Size > lim.MaxManifestBytes {
		return nil, fmt.Errorf("manifest of %d bytes: %w (limit %d)", head.Size, ErrTooLarge, lim.MaxManifestBytes)
	}
	desc, err := remote.Get(ref, o.remote...)
	if err != nil {
		return nil, fmt.Errorf("get manifest %s: %w", ref, err)
	}
	if int64(len(desc.Manifest)) > lim.MaxManifestBytes {
		return nil, fmt.Errorf("manifest of %d bytes: %w (limit %d)", len(desc.Manifest), ErrTooLarge, lim.MaxManifestBytes)
	}
	sum := sha256.Sum256(desc.Manifest)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != ref.DigestStr() {
		return nil, fmt.Errorf("manifest is %s, want %s: %w", got, ref.DigestStr(), ErrDigestMismatch)
	}
	layer, ann, err := checkManifest(desc.Manifest, lim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	blob, err := remote.Layer(ref.Context().Digest(layer.Digest.String()), o.remote...)
	if err != nil {
		return nil, fmt.Errorf("get layer %s: %w", layer.Digest, err)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return nil, fmt.Errorf("get layer %s: %w", layer.Digest, err)
	}
	defer rc.Close()
	wasm, err := readCapped(rc, layer.Size, lim.MaxLayerBytes)
	if err != nil {
		return nil, fmt.Errorf("read layer %s: %w", layer.Digest, err)
	}
	lsum := sha256.Sum256(wasm)
	if got := "sha256:" + hex.EncodeToString(lsum[:]); got != layer.Digest.String() {
		return nil, fmt.Errorf("layer is %s, want %s: %w", got, layer.Digest, ErrDigestMismatch)
	}
	return &Artifact{Ref: ref, Digest: ref.DigestStr(), LayerDigest: layer.Digest.String(), Annotations: ann, Wasm: wasm}, nil
}

// checkManifest accepts exactly one Wasm layer under the cap and the Wasm
// config media type.
func checkManifest(body []byte, lim Limits) (v1.Descriptor, map[string]string, error) {
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("decode manifest: %w", err)
	}
	switch m.MediaType {
	case types.OCIManifestSchema1, "":
	default:
		return v1.Descriptor{}, nil, fmt.Errorf("manifest media type %q: %w", m.MediaType, ErrNotWasmArtifact)
	}
	if m.Config.MediaType != WasmConfigMediaType {
		return v1.Descriptor{}, nil, fmt.Errorf("config media type %q, want %q: %w", m.Config.MediaType, WasmConfigMediaType, ErrNotWasmArtifact)
	}
	if len(m.Layers) != 1 {
		return v1.Descriptor{}, nil, fmt.Errorf("%d layers, want exactly one: %w", len(m.Layers), ErrNotWasmArtifact)
	}
	l := m.Layers[0]
	if l.MediaType != WasmLayerMediaType {
		return v1.Descriptor{}, nil, fmt.Errorf("layer media type %q, want %q: %w", l.MediaType, WasmLayerMediaType, ErrNotWasmArtifact)
	}
	if l.Size <= 0 || l.Size > lim.MaxLayerBytes {
		return v1.Descriptor{}, nil, fmt.Errorf("layer of %d bytes: %w (limit %d)", l.Size, ErrTooLarge, lim.MaxLayerBytes)
	}
	return l, m.Annotations, nil
}

// readCapped reads exactly want bytes, failing on more than limit or on a
// short or long body.
func readCapped(r io.Reader, want, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w (limit %d)", ErrTooLarge, limit)
	}
	if n != want {
		return nil, fmt.Errorf("read %d bytes, manifest says %d: %w", n, want, ErrDigestMismatch)
	}
	return buf.Bytes(), nil
}
