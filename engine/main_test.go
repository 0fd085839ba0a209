package engine

import (
	"os"
	"testing"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

// binDir holds the engine binary, built once for all the tests of a run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-engine-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	testenv.Main(cleanup{m, func() { _ = os.RemoveAll(dir) }}, &env)
}

// cleanup runs the tests, then done.
type cleanup struct {
	m    *testing.M
	done func()
}

func (c cleanup) Run() int {
	defer c.done()
	return c.m.Run()
}
