package git

import (
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/go-git/go-git/v5/plumbing"
)

// resolved is a reference as the remote advertises it.
type resolved struct {
	ref   plumbing.ReferenceName // what to clone; empty for a bare commit
	label string                 // the revision's name part
	hash  string                 // known commit, if any
}

// resolve applies Flux's precedence: name, tag, semver, branch (default
// master). Commits are handled by the callers.
func resolve(ref Reference, refs []*plumbing.Reference) (resolved, error) {
	byName := make(map[plumbing.ReferenceName]string, len(refs))
	for _, r := range refs {
		if r.Type() == plumbing.HashReference {
			byName[r.Name()] = r.Hash().String()
		}
	}
	// Peeled tags ("^{}") point at the commit of an annotated tag.
	lookup := func(n plumbing.ReferenceName) (string, bool) {
		if h, ok := byName[n+"^{}"]; ok {
			return h, true
		}
		h, ok := byName[n]
		return h, ok
	}
	switch {
	case ref.Name != "":
		n := plumbing.ReferenceName(ref.Name)
		h, ok := lookup(n)
		if !ok {
			return resolved{}, fmt.Errorf("reference '%s' not found", ref.Name)
		}
		return resolved{ref: n, label: ref.Name, hash: h}, nil
	case ref.Tag != "":
		n := plumbing.NewTagReferenceName(ref.Tag)
		h, ok := lookup(n)
		if !ok {
			return resolved{}, fmt.Errorf("tag '%s' not found", ref.Tag)
		}
		return resolved{ref: n, label: ref.Tag, hash: h}, nil
	case ref.SemVer != "":
		return resolveSemver(ref.SemVer, byName, lookup)
	default:
		branch := "master"
		if ref.Branch != "" {
			branch = ref.Branch
		}
		n := plumbing.NewBranchReferenceName(branch)
		h, ok := byName[n]
		if !ok {
			return resolved{}, fmt.Errorf("couldn't find remote ref '%s'", n)
		}
		return resolved{ref: n, label: branch, hash: h}, nil
	}
}

func resolveSemver(rng string, byName map[plumbing.ReferenceName]string, lookup func(plumbing.ReferenceName) (string, bool)) (resolved, error) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return resolved{}, fmt.Errorf("semver parse error: %w", err)
	}
	type cand struct {
		v   *semver.Version
		tag string
	}
	var cands []cand
	for n := range byName {
		if !n.IsTag() || strings.HasSuffix(string(n), "^{}") {
			continue
		}
		tag := n.Short()
		v, err := semver.NewVersion(tag)
		if err != nil || !c.Check(v) {
			continue
		}
		cands = append(cands, cand{v, tag})
	}
	if len(cands) == 0 {
		return resolved{}, fmt.Errorf("no match found for semver: %s", rng)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].v.Equal(cands[j].v) {
			return cands[i].tag < cands[j].tag
		}
		return cands[i].v.LessThan(cands[j].v)
	})
	best := cands[len(cands)-1]
	n := plumbing.NewTagReferenceName(best.tag)
	h, _ := lookup(n)
	return resolved{ref: n, label: best.tag, hash: h}, nil
}
