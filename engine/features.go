package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// featureGates binds Flux's --feature-gates flag (key=bool pairs, comma
// separated) to the Config fields of the gates the engine knows, so Flux's
// flags carry over. An unknown gate is an error rather than silently
// ignored.
type featureGates struct{ c *Config }

// gates maps each known gate to its Config field.
func (f featureGates) gates() map[string]*bool {
	return map[string]*bool{
		// A variable without a value and without a default fails the build.
		"StrictPostBuildSubstitutions": &f.c.StrictPostBuildSubstitutions,
		// spec.kubeConfig.configMapRef may name a service account.
		"ObjectLevelWorkloadIdentity": &f.c.ObjectLevelWorkloadIdentity,
	}
}

func (f featureGates) known() []string {
	var names []string
	for name := range f.gates() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (f featureGates) String() string {
	var pairs []string
	for _, name := range f.known() {
		pairs = append(pairs, name+"="+strconv.FormatBool(*f.gates()[name]))
	}
	return strings.Join(pairs, ",")
}

func (f featureGates) Set(s string) error {
	gates := f.gates()
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("%q is not name=true|false", pair)
		}
		field, known := gates[strings.TrimSpace(name)]
		if !known {
			return fmt.Errorf("unknown feature gate %q, known: %s", name, strings.Join(f.known(), ", "))
		}
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return fmt.Errorf("feature gate %s: %q is not true or false", name, value)
		}
		*field = b
	}
	return nil
}

func (featureGates) Type() string { return "mapStringBool" }
