// Command engine is Weir: a GitOps reconciliation engine that serves Flux's
// GitRepository, Kustomization and Receiver APIs and extends them with Wasm
// plugins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/weir-gitops/weir/engine/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd(os.Stdout, os.Stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		// engine diff exits with 1 for "differences found" and prints
		// nothing more, as kubectl diff does.
		var exit *cli.ExitError
		if !errors.As(err, &exit) || exit.Err != nil {
			fmt.Fprintf(os.Stderr, "error: %s\n", oneLine(err))
		}
		os.Exit(cli.ExitCode(err))
	}
}

// oneLine folds a possibly multi-line error (errors.Join) into one line.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "; ")
}
