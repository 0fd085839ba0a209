package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

// NewDailyCmds returns the daily commands: get, tree, reconcile, suspend,
// resume and events. Their logic lives in engine/internal/cli.
func NewDailyCmds(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{newGetCmd(stdout, stderr), newTreeCmd(stdout, stderr), newReconcileCmd(stdout, stderr),
		newSuspendCmd(stdout, stderr), newResumeCmd(stdout, stderr), newEventsCmd(stdout, stderr)}
}

// openConsole connects to the cluster conn names and returns a Console
// writing to stdout and stderr, coloured only when stdout is a terminal and
// NO_COLOR is not set, with the namespace to use.
func openConsole(conn console.Connection, stdout, stderr io.Writer) (*console.Console, string, error) {
	kube, ns, err := conn.Open()
	if err != nil {
		return nil, "", err
	}
	c, err := console.New(kube, console.Options{Out: stdout, Err: stderr, Color: console.ColorEnabled(stdout, os.Getenv)})
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}
