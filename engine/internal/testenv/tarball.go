package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// TarNames lists the entry names of a gzipped tarball in order, and fails
// the test on a header that is not deterministic (a time, an owner).
func TarNames(t testing.TB, body []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(h.ModTime.Truncate(0)) || h.ModTime.Unix() != 0 || h.Uid != 0 || h.Gid != 0 {
			t.Fatalf("%s: non-deterministic header %+v", h.Name, h)
		}
		names = append(names, h.Name)
	}
}
