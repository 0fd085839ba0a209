package engine

import (
	"io"
	"os"

	"github.com/weir-gitops/weir/engine/internal/cli"
)

// The daily commands (get, tree, reconcile, suspend, resume, events) keep
// their logic in internal/cli. Go's internal rule keeps cmd/engine from
// importing it, so these names are the whole of what the command line
// reaches; see that package for the documentation.
type (
	// CLIConsole runs the daily commands against one cluster.
	CLIConsole = cli.Console
	// CLIConnection names the kubeconfig, context and namespace.
	CLIConnection = cli.Connection
	// CLIKind is one kind the daily commands handle.
	CLIKind = cli.Kind
	// CLIGetQuery selects what get lists.
	CLIGetQuery = cli.GetQuery
	// CLIEventQuery selects what events lists.
	CLIEventQuery = cli.EventQuery
	// CLIFormat is an output format: table, json or yaml.
	CLIFormat = cli.Format
)

// CLIDefaultNamespace is the namespace used when neither the flag nor the
// kubeconfig context names one.
const CLIDefaultNamespace = cli.DefaultNamespace

// CLIFormatTable is the default output format.
const CLIFormatTable = cli.FormatTable

// CLIKinds returns the kinds the daily commands handle, sources first.
func CLIKinds() []CLIKind { return cli.Kinds() }

// ParseCLIFormat validates an -o value.
func ParseCLIFormat(s string) (CLIFormat, error) { return cli.ParseFormat(s) }

// OpenCLIConsole connects to the cluster conn names and returns a Console
// writing to stdout and stderr, coloured only when stdout is a terminal and
// NO_COLOR is not set, with the namespace to use.
func OpenCLIConsole(conn CLIConnection, stdout, stderr io.Writer) (*CLIConsole, string, error) {
	kube, ns, err := conn.Open()
	if err != nil {
		return nil, "", err
	}
	c, err := cli.New(kube, cli.Options{Out: stdout, Err: stderr, Color: cli.ColorEnabled(stdout, os.Getenv)})
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}
