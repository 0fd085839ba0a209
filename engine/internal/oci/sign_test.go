package oci

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	. "github.com/onsi/gomega"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

func keyPair(t *testing.T) KeyPair {
	t.Helper()
	kp, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func signWith(t *testing.T, d name.Digest, kp KeyPair) {
	t.Helper()
	s, err := LoadSigner(kp.Private, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(context.Background(), d, s); err != nil {
		t.Fatal(err)
	}
}

func TestSignVerify(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	alice, bob, eve := keyPair(t), keyPair(t), keyPair(t)

	push := func(t *testing.T, repo string, body []byte) name.Digest {
		d, err := Push(ctx, body, host+"/"+repo+":v1", testModule)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T) name.Digest
		keys    map[string][]byte
		policy  Policy
		ok      bool
		failMsg string
	}{
		{"signed by the key", func(t *testing.T) name.Digest {
			d := push(t, "a", wasmModule)
			signWith(t, d, alice)
			return d
		}, map[string][]byte{"alice.pub": alice.Public}, PolicyAny, true, ""},
		{"unsigned", func(t *testing.T) name.Digest { return push(t, "b", wasmModule) },
			map[string][]byte{"alice.pub": alice.Public}, PolicyAny, false, "no signature found"},
		{"signed by another key", func(t *testing.T) name.Digest {
			d := push(t, "c", wasmModule)
			signWith(t, d, eve)
			return d
		}, map[string][]byte{"alice.pub": alice.Public}, PolicyAny, false, "alice.pub"},
		{"any of two keys", func(t *testing.T) name.Digest {
			d := push(t, "d", wasmModule)
			signWith(t, d, bob)
			return d
		}, map[string][]byte{"alice.pub": alice.Public, "bob.pub": bob.Public}, PolicyAny, true, ""},
		{"all needs both", func(t *testing.T) name.Digest {
			d := push(t, "e", wasmModule)
			signWith(t, d, bob)
			return d
		}, map[string][]byte{"alice.pub": alice.Public, "bob.pub": bob.Public}, PolicyAll, false, "1 of 2 keys verified"},
		{"all with both", func(t *testing.T) name.Digest {
			d := push(t, "f", wasmModule)
			signWith(t, d, alice)
			signWith(t, d, bob)
			return d
		}, map[string][]byte{"alice.pub": alice.Public, "bob.pub": bob.Public}, PolicyAll, true, ""},
		{"a valid signature of another digest copied onto this one", func(t *testing.T) name.Digest {
			signed := push(t, "g", wasmModule)
			signWith(t, signed, alice)
			victim := push(t, "g", append(append([]byte{}, wasmModule...), 0x00))
			src, err := ociremote.SignatureTag(signed)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := ociremote.SignatureTag(victim)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Put(dst, desc); err != nil {
				t.Fatal(err)
			}
			return victim
		}, map[string][]byte{"alice.pub": alice.Public}, PolicyAny, false, "alice.pub"},
		{"a broken key", func(t *testing.T) name.Digest {
			d := push(t, "h", wasmModule)
			signWith(t, d, alice)
			return d
		}, map[string][]byte{"junk.pub": []byte("not a key")}, PolicyAny, false, "parse public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			d := tt.setup(t)
			res, err := Verify(ctx, d, tt.keys, tt.policy)
			if tt.ok {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(res.Verified).NotTo(BeEmpty())
				return
			}
			g.Expect(err).To(MatchError(ErrNotVerified))
			g.Expect(err.Error()).To(ContainSubstring(tt.failMsg))
		})
	}
}

func TestSignTwiceAddsNoDuplicate(t *testing.T) {
	g := NewWithT(t)
	host := newRegistry(t)
	kp := keyPair(t)
	d, err := Push(context.Background(), wasmModule, host+"/p:v1", testModule)
	g.Expect(err).NotTo(HaveOccurred())
	signWith(t, d, kp)
	signWith(t, d, kp)
	st, err := ociremote.SignatureTag(d)
	g.Expect(err).NotTo(HaveOccurred())
	img, err := remote.Image(st)
	g.Expect(err).NotTo(HaveOccurred())
	layers, err := img.Layers()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(layers).To(HaveLen(1))
}

func TestWrongPassword(t *testing.T) {
	g := NewWithT(t)
	kp := keyPair(t)
	_, err := LoadSigner(kp.Private, []byte("wrong"))
	g.Expect(err).To(HaveOccurred())
}
