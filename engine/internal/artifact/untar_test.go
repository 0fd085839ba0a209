package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// entry is one tar entry of a test tarball.
type entry struct {
	name, link string
	typ        byte
	data       string
	size       int64 // the declared size when it differs from data
}

func tarball(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.data))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil && e.size == 0 {
			t.Fatal(err)
		}
	}
	// A declared size larger than the data leaves the tarball short; the
	// reader must then fail, not hang or over-allocate.
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// recorder is kustomize's in-memory file system, remembering the paths
// written so a test can check that nothing landed outside the root.
type recorder struct {
	filesys.FileSystem
	written []string
	bytes   int64
}

func newRecorder() *recorder { return &recorder{FileSystem: filesys.MakeFsInMemory()} }

func (r *recorder) MkdirAll(p string) error {
	r.written = append(r.written, p)
	return r.FileSystem.MkdirAll(p)
}

func (r *recorder) WriteFile(p string, b []byte) error {
	r.written = append(r.written, p)
	r.bytes += int64(len(b))
	return r.FileSystem.WriteFile(p, b)
}

func TestUntar(t *testing.T) {
	small := Limits{MaxBytes: 1 << 10, MaxEntries: 4}
	tests := []struct {
		name    string
		entries []entry
		lim     Limits
		err     string // empty: unpacks
		files   map[string]string
		absent  []string
	}{
		{name: "files and directories", entries: []entry{
			{name: "./", typ: tar.TypeDir},
			{name: "apps/", typ: tar.TypeDir},
			{name: "apps/a.yaml", typ: tar.TypeReg, data: "a"},
			{name: "deep/er/b.yaml", typ: tar.TypeReg, data: "b"},
		}, files: map[string]string{"/src/apps/a.yaml": "a", "/src/deep/er/b.yaml": "b"}},
		{name: "links inside are left out", entries: []entry{
			{name: "a.yaml", typ: tar.TypeReg, data: "a"},
			{name: "link.yaml", typ: tar.TypeSymlink, link: "a.yaml"},
			{name: "dir/up.yaml", typ: tar.TypeSymlink, link: "../a.yaml"},
			{name: "hard.yaml", typ: tar.TypeLink, link: "a.yaml"},
		}, files: map[string]string{"/src/a.yaml": "a"}, absent: []string{"/src/link.yaml", "/src/dir/up.yaml", "/src/hard.yaml"}},
		{name: "absolute name", entries: []entry{{name: "/etc/passwd", typ: tar.TypeReg, data: "x"}}, err: "escapes the root"},
		{name: "climbing name", entries: []entry{{name: "../x.yaml", typ: tar.TypeReg, data: "x"}}, err: "escapes the root"},
		{name: "climbing in the middle", entries: []entry{{name: "a/../../x.yaml", typ: tar.TypeReg, data: "x"}}, err: "escapes the root"},
		{name: "climbing directory", entries: []entry{{name: "a/../../", typ: tar.TypeDir}}, err: "escapes the root"},
		{name: "symlink to /etc", entries: []entry{{name: "passwd.yaml", typ: tar.TypeSymlink, link: "/etc/passwd"}}, err: "points out of the artifact"},
		{name: "symlink climbing out", entries: []entry{{name: "a/b.yaml", typ: tar.TypeSymlink, link: "../../etc/passwd"}}, err: "points out of the artifact"},
		{name: "hard link out", entries: []entry{{name: "x", typ: tar.TypeLink, link: "../x"}}, err: "points out of the artifact"},
		{name: "device", entries: []entry{{name: "null", typ: tar.TypeChar}}, err: "not a regular file, directory or link"},
		{name: "fifo", entries: []entry{{name: "pipe", typ: tar.TypeFifo}}, err: "not a regular file, directory or link"},
		{name: "too many entries", lim: small, entries: []entry{
			{name: "1", typ: tar.TypeReg}, {name: "2", typ: tar.TypeReg}, {name: "3", typ: tar.TypeReg},
			{name: "4", typ: tar.TypeReg}, {name: "5", typ: tar.TypeReg},
		}, err: "more than 4 entries"},
		{name: "too many bytes", lim: small, entries: []entry{
			{name: "a", typ: tar.TypeReg, data: strings.Repeat("a", 600)},
			{name: "b", typ: tar.TypeReg, data: strings.Repeat("b", 600)},
		}, err: "more than 1024 bytes"},
		{name: "declared size over the limit", lim: small, entries: []entry{
			{name: "bomb", typ: tar.TypeReg, size: 1 << 40},
		}, err: "more than 1024 bytes"},
		{name: "declared data of a skipped entry counts", lim: small, entries: []entry{
			{name: "l", typ: tar.TypeSymlink, link: "a", size: 4096},
		}, err: "more than 1024 bytes"},
		{name: "declared size longer than the data", entries: []entry{
			{name: "short", typ: tar.TypeReg, data: "abc", size: 100},
		}, err: "reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			lim := tt.lim
			if lim == (Limits{}) {
				lim = DefaultLimits
			}
			fs := newRecorder()
			err := Untar(bytes.NewReader(tarball(t, tt.entries...)), fs, "/src", lim)
			if tt.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			for name, want := range tt.files {
				got, err := fs.ReadFile(name)
				g.Expect(err).NotTo(HaveOccurred(), name)
				g.Expect(string(got)).To(Equal(want))
			}
			for _, name := range tt.absent {
				g.Expect(fs.Exists(name)).To(BeFalse(), name)
			}
		})
	}
}

func TestUntarRefusals(t *testing.T) {
	g := NewWithT(t)
	err := Untar(strings.NewReader("not a tarball"), newRecorder(), "/src", DefaultLimits)
	g.Expect(err).To(MatchError(ContainSubstring("artifact is not gzip")))
	g.Expect(errors.Is(err, ErrUnsafe)).To(BeFalse(), "bad input, not an unsafe one")

	err = Untar(bytes.NewReader(tarball(t, entry{name: "/etc/passwd", typ: tar.TypeReg})), newRecorder(), "/src", DefaultLimits)
	g.Expect(errors.Is(err, ErrUnsafe)).To(BeTrue())
}

// TestUntarCapsTheStream feeds a tarball whose bulk is in extended
// headers (long names as PAX records), which the tar reader consumes by
// itself and no entry's size accounts for. The cap on the decompressed
// stream must stop it.
func TestUntarCapsTheStream(t *testing.T) {
	g := NewWithT(t)
	var entries []entry
	for i := range 30 {
		entries = append(entries, entry{name: fmt.Sprintf("%d/%s", i, strings.Repeat("n", 100<<10)), typ: tar.TypeReg})
	}
	err := Untar(bytes.NewReader(tarball(t, entries...)), newRecorder(), "/src", Limits{MaxBytes: 64 << 10, MaxEntries: 100})
	g.Expect(err).To(MatchError(ContainSubstring("decompressed stream over the limit")))
	g.Expect(errors.Is(err, ErrUnsafe)).To(BeTrue())
}

// FuzzUntar feeds arbitrary bytes: Untar must not panic, and whatever it
// writes stays below the root and within the limits.
func FuzzUntar(f *testing.F) {
	f.Add(tarball(f, entry{name: "a.yaml", typ: tar.TypeReg, data: "kind: ConfigMap"}))
	f.Add(tarball(f, entry{name: "d/", typ: tar.TypeDir}, entry{name: "d/l", typ: tar.TypeSymlink, link: "../a"}))
	f.Add(tarball(f, entry{name: "../x", typ: tar.TypeReg, data: "x"}))
	f.Add(tarball(f, entry{name: "x", typ: tar.TypeLink, link: "/etc/passwd"}))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	lim := Limits{MaxBytes: 64 << 10, MaxEntries: 64}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := newRecorder()
		_ = Untar(bytes.NewReader(data), fs, "/src", lim)
		for _, p := range fs.written {
			if p != "/src" && !strings.HasPrefix(p, "/src/") || path.Clean(p) != p {
				t.Fatalf("wrote %q outside the root", p)
			}
		}
		if fs.bytes > lim.MaxBytes {
			t.Fatalf("wrote %d bytes, limit %d", fs.bytes, lim.MaxBytes)
		}
	})
}
