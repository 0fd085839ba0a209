package artifact

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// vcsIgnore are always excluded.
const vcsIgnore = `.git/
.gitignore
.gitmodules
.gitattributes
`

// defaultIgnore are the exclusions applied when neither spec.ignore nor a
// .sourceignore file gives any rule, as source-controller applies them: VCS
// metadata, CI configuration and common binary files that never belong in
// a deployment artifact.
const defaultIgnore = vcsIgnore + `# Common binaries
*.jpg
*.jpeg
*.gif
*.png
*.wmv
*.flv
*.tar.gz
*.zip
# CI
.github/
.circleci/
.travis.yml
.gitlab-ci.yml
appveyor.yml
.drone.yml
cloudbuild.yaml
codeship-services.yml
codeship-steps.yml
**/.goreleaser.yml
**/.sops.yaml
**/.flux.yaml
`

const sourceIgnoreFile = ".sourceignore"

// matcher builds the archive's exclusions as source-controller does: the
// .sourceignore files first, then spec.ignore (so that it can overrule
// them); when there are any such rules they replace the default list and
// only the VCS entries stay excluded.
func matcher(dir, ignore string) (gitignore.Matcher, error) {
	var patterns []gitignore.Pattern
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		// Only a regular file counts: a link named .sourceignore could
		// point anywhere on the machine.
		if d.Name() != sourceIgnoreFile || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		var domain []string
		if rel != "." {
			domain = strings.Split(filepath.ToSlash(rel), "/")
		}
		patterns = append(patterns, parsePatterns(string(data), domain)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s files: %w", sourceIgnoreFile, err)
	}
	patterns = append(patterns, parsePatterns(ignore, nil)...)
	if len(patterns) == 0 {
		return gitignore.NewMatcher(parsePatterns(defaultIgnore, nil)), nil
	}
	return gitignore.NewMatcher(append(parsePatterns(vcsIgnore, nil), patterns...)), nil
}

func parsePatterns(text string, domain []string) []gitignore.Pattern {
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	return ps
}
