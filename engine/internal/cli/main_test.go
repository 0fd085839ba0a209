package cli

import (
	"testing"

	"github.com/weir-gitops/weir/engine/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }
