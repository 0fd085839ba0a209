package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ANSI colours for cells.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

// table is rows of cells under a header, printed aligned with three spaces
// between columns. Colours are applied after the padding is computed, so
// columns line up with and without them.
type table struct {
	header []string
	rows   [][]string
	// paint returns the colour of a cell from its column's header and its
	// value, or "" for none.
	paint func(header, value string) string
}

func (t table) write(w io.Writer, color bool) error {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(r []string, paint bool) {
		for i, c := range r {
			last := i == len(r)-1
			pad := ""
			if !last {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+3)
			}
			if col := t.colour(i, c, paint && color); col != "" {
				c = col + c + reset
			}
			b.WriteString(c + pad)
		}
		b.WriteByte('\n')
	}
	line(t.header, false)
	for _, r := range t.rows {
		line(r, true)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (t table) colour(col int, value string, on bool) string {
	if !on || t.paint == nil {
		return ""
	}
	return t.paint(t.header[col], value)
}

// paintStatus colours READY, SUSPENDED and event TYPE cells.
func paintStatus(header, value string) string {
	switch {
	case header == "READY" && value == "True":
		return green
	case header == "READY" && value == "False":
		return red
	case header == "READY":
		return yellow
	case header == "SUSPENDED" && value == "True":
		return yellow
	case header == "TYPE" && value == "Warning":
		return red
	}
	return ""
}

// oneLine folds a multi-line message so that a row stays one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// boolText prints a bool the way Kubernetes prints condition statuses.
func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// ref names an object for progress lines: "Kustomization apps in flux-system namespace".
func ref(kind, ns, name string) string {
	return fmt.Sprintf("%s %s in %s namespace", kind, name, ns)
}
