package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/go-logr/logr"
)

// stderrLog is the plugin host's logger for `engine plugin run`: the
// guest's log lines and captured stdout and stderr, and the host's notes
// about the call (a refused http_call), one line each. The plugin and
// digest every line carries are dropped: there is one plugin.
type stderrLog struct {
	mu sync.Mutex
	w  io.Writer
}

var _ logr.LogSink = (*stderrLog)(nil)

func (l *stderrLog) Init(logr.RuntimeInfo)                  {}
func (l *stderrLog) Enabled(int) bool                       { return true }
func (l *stderrLog) WithValues(...any) logr.LogSink         { return l }
func (l *stderrLog) WithName(string) logr.LogSink           { return l }
func (l *stderrLog) Error(err error, msg string, kv ...any) { l.Info(0, msg+": "+err.Error(), kv...) }

// Info prints "guest output" as one "stdout: " or "stderr: " line per
// line of text, and anything else as "log LEVEL: message k=v ...".
func (l *stderrLog) Info(level int, msg string, kv ...any) {
	fields := map[string]any{}
	var rest []string
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		fields[k] = kv[i+1]
		if k != "level" {
			rest = append(rest, fmt.Sprintf("%s=%v", k, kv[i+1]))
		}
	}
	var b strings.Builder
	if stream, ok := fields["stream"].(string); ok && msg == "guest output" {
		if text, _ := fields["text"].(string); text != "" {
			for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				fmt.Fprintf(&b, "%s: %s\n", stream, line)
			}
		}
		if n, _ := fields["droppedBytes"].(int); n > 0 {
			fmt.Fprintf(&b, "%s: (%d more bytes dropped)\n", stream, n)
		}
	} else {
		lvl, _ := fields["level"].(string)
		switch {
		case lvl != "":
		case level > 0:
			lvl = "debug"
		default:
			lvl = "info"
		}
		fmt.Fprintf(&b, "log %s: %s", lvl, msg)
		if len(rest) > 0 {
			b.WriteString(" " + strings.Join(rest, " "))
		}
		b.WriteString("\n")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}
