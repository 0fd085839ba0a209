package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	console "github.com/weir-gitops/weir/engine/internal/cli"
)

// clusterFlags are the connection flags every daily command takes.
type clusterFlags struct {
	conn console.Connection
}

func (f *clusterFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.conn.Kubeconfig, "kubeconfig", "", "Path to the kubeconfig (default $KUBECONFIG, then ~/.kube/config).")
	fs.StringVar(&f.conn.Context, "context", "", "Kubeconfig context to use (default the current context).")
	fs.StringVarP(&f.conn.Namespace, "namespace", "n", "", "Namespace (default the namespace of the kubeconfig context, else \""+console.DefaultNamespace+"\").")
}

// console connects to the cluster and returns a Console writing to stdout
// and stderr, and the namespace.
func (f *clusterFlags) console(stdout, stderr io.Writer) (*console.Console, string, error) {
	return openConsole(f.conn, stdout, stderr)
}

// objectName takes NAME from the arguments; for sources it also accepts
// flux's "source git NAME".
func objectName(k console.Kind, args []string) (string, error) {
	switch {
	case len(args) == 1:
		return args[0], nil
	case len(args) == 2 && k.Singular == "source" && strings.EqualFold(args[0], "git"):
		return args[1], nil
	}
	return "", fmt.Errorf("want one %s name, got %q", k.Kind, args)
}
