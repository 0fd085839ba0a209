package webhook

import (
	"context"
	"fmt"
	"strings"
	"sync"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// celCostLimit bounds one evaluation: claims come from the caller.
const celCostLimit = 1_000_000

// oidcRules are a provider's compiled variables and validations.
type oidcRules struct {
	vars        []namedProgram
	validations []namedProgram
}

type namedProgram struct {
	name string // the variable name, or the validation's message
	prog cel.Program
}

// ValidateOIDCProvider compiles a generic-oidc provider's variables and
// validations, as the webhook will, and says what is wrong with them.
func ValidateOIDCProvider(p notificationv1.OIDCProvider) error {
	_, err := compileOIDCRules(p)
	return err
}

func oidcEnv() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("vars", cel.MapType(cel.StringType, cel.DynType)),
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(), ext.Sets(), ext.Encoders(),
	}
	return cel.NewEnv(opts...)
}

func compileOIDCRules(p notificationv1.OIDCProvider) (*oidcRules, error) {
	env, err := oidcEnv()
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	if len(p.Validations) == 0 {
		return nil, fmt.Errorf("provider %q has no validations", p.IssuerURL)
	}
	out := &oidcRules{}
	seen := map[string]bool{}
	for i, v := range p.Variables {
		if v.Name == "" || seen[v.Name] {
			return nil, fmt.Errorf("provider %q: variables[%d]: the name is empty or repeated", p.IssuerURL, i)
		}
		seen[v.Name] = true
		prog, err := compileCEL(env, v.Expression, nil)
		if err != nil {
			return nil, fmt.Errorf("provider %q: variables[%d] (%s): %w", p.IssuerURL, i, v.Name, err)
		}
		out.vars = append(out.vars, namedProgram{name: v.Name, prog: prog})
	}
	for i, v := range p.Validations {
		prog, err := compileCEL(env, v.Expression, cel.BoolType)
		if err != nil {
			return nil, fmt.Errorf("provider %q: validations[%d]: %w", p.IssuerURL, i, err)
		}
		msg := v.Message
		if msg == "" {
			msg = "validation " + v.Expression + " failed"
		}
		out.validations = append(out.validations, namedProgram{name: msg, prog: prog})
	}
	return out, nil
}

func compileCEL(env *cel.Env, expr string, want *cel.Type) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL expression %q: %w", expr, iss.Err())
	}
	if want != nil && !ast.OutputType().IsExactType(want) && !ast.OutputType().IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL expression %q returns %s, not %s", expr, ast.OutputType(), want)
	}
	prog, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", expr, err)
	}
	return prog, nil
}

// check evaluates the variables in order, then every validation, and
// returns the messages of those that are not true.
func (r *oidcRules) check(ctx context.Context, claims map[string]any) ([]string, error) {
	vars := map[string]ref.Val{}
	act := map[string]any{"claims": claims, "vars": vars}
	for _, v := range r.vars {
		val, _, err := v.prog.ContextEval(ctx, act)
		if err != nil {
			return nil, fmt.Errorf("evaluating variable %s: %w", v.name, err)
		}
		vars[v.name] = val
	}
	var failed []string
	for _, v := range r.validations {
		val, _, err := v.prog.ContextEval(ctx, act)
		if err != nil || val != types.True {
			failed = append(failed, v.name)
		}
	}
	return failed, nil
}

// ruleCache keeps compiled rules by their source, so a request compiles
// nothing a previous request to the same provider compiled.
type ruleCache struct {
	mu    sync.Mutex
	rules map[string]*oidcRules
}

func newRuleCache() *ruleCache { return &ruleCache{rules: map[string]*oidcRules{}} }

func (c *ruleCache) compile(p *notificationv1.OIDCProvider) (*oidcRules, error) {
	var b strings.Builder
	b.WriteString(p.IssuerURL)
	for _, v := range p.Variables {
		fmt.Fprintf(&b, "\x00v%q=%q", v.Name, v.Expression)
	}
	for _, v := range p.Validations {
		fmt.Fprintf(&b, "\x00c%q:%q", v.Expression, v.Message)
	}
	key := b.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.rules[key]; ok {
		return r, nil
	}
	r, err := compileOIDCRules(*p)
	if err != nil {
		return nil, err
	}
	if len(c.rules) >= 4*maxIssuers {
		c.rules = map[string]*oidcRules{}
	}
	c.rules[key] = r
	return r, nil
}
