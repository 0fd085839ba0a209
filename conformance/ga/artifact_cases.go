package ga

import (
	"fmt"
	"net/url"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ignoreTree exercises the exclusion rules: VCS files, CI files, binaries,
// .sourceignore files at the root and below.
var ignoreTree = map[string]string{
	"deploy/cm.yaml":          configMap("one", "v1"),
	"deploy/notes.txt":        "notes",
	"deploy/logo.png":         "png",
	".gitignore":              "tmp/\n",
	".github/workflows/x.yml": "on: push",
	"extra/cm.yaml":           configMap("extra", "v1"),
}

// artifactCase creates a repository of files and a GitRepository changed
// by mutate, waits for its artifact and hands it to check.
func artifactCase(name, doc string, files map[string]string, mutate func(*sourcev1.GitRepository), check func(t *T, gr *sourcev1.GitRepository, sha string)) Case {
	return Case{Name: "artifact/" + name, Doc: doc, run: func(t *T) {
		ns := t.Namespace()
		repo, sha := t.Repo(files)
		var ms []func(*sourcev1.GitRepository)
		if mutate != nil {
			ms = append(ms, mutate)
		}
		gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL, ms...), rev("main", sha))
		check(t, gr, sha)
	}}
}

func ignore(rules string) func(*sourcev1.GitRepository) {
	return func(gr *sourcev1.GitRepository) { gr.Spec.Ignore = &rules }
}

func filesCheck(want ...string) func(t *T, gr *sourcev1.GitRepository, _ string) {
	return func(t *T, gr *sourcev1.GitRepository, _ string) {
		t.Check(expectFiles(t.Files(gr), want...), "artifact content")
	}
}

func merge(a, b map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

func artifactCases() []Case {
	return []Case{
		artifactCase("digest-and-size", "status.artifact.digest is sha256:<hex> of the bytes served at status.artifact.url, and size their length",
			oneFile, nil, func(t *T, gr *sourcev1.GitRepository, _ string) {
				b := t.Download(gr)
				a := gr.Status.Artifact
				if got := sha256Digest(b); got != a.Digest {
					t.Fatalf("downloaded artifact has digest %s, status says %s", got, a.Digest)
				}
				if a.Size == nil || *a.Size != int64(len(b)) {
					t.Fatalf("downloaded artifact has %d bytes, status.artifact.size is %v", len(b), a.Size)
				}
			}),
		artifactCase("url", "status.artifact.url is an absolute http(s) URL and status.artifact.path and lastUpdateTime are set",
			oneFile, nil, func(t *T, gr *sourcev1.GitRepository, _ string) {
				a := gr.Status.Artifact
				u, err := url.Parse(a.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					t.Fatalf("artifact URL %q is not an absolute http(s) URL", a.URL)
				}
				if a.Path == "" || a.LastUpdateTime.IsZero() {
					t.Fatalf("artifact path %q, lastUpdateTime %v: both must be set", a.Path, a.LastUpdateTime)
				}
			}),
		artifactCase("content", "the artifact is a gzip tarball of the checked-out tree with the committed content",
			oneFile, nil, func(t *T, gr *sourcev1.GitRepository, _ string) {
				files := t.Files(gr)
				if files["deploy/cm.yaml"] != oneFile["deploy/cm.yaml"] {
					t.Fatalf("deploy/cm.yaml in the artifact is %q", files["deploy/cm.yaml"])
				}
			}),
		artifactCase("default-exclusions", "with no ignore rules, VCS files, CI configuration and binaries like *.png are left out",
			ignoreTree, nil, filesCheck("deploy/cm.yaml", "deploy/notes.txt", "extra/cm.yaml")),
		artifactCase("spec-ignore", "spec.ignore excludes matching paths and replaces the default list (VCS files stay out)",
			ignoreTree, ignore("*.txt\n"), filesCheck("deploy/cm.yaml", "deploy/logo.png", ".github/workflows/x.yml", "extra/cm.yaml")),
		artifactCase("spec-ignore-negation", "spec.ignore supports negation: /* then !/deploy/ keeps only deploy",
			ignoreTree, ignore("/*\n!/deploy/\n"), filesCheck("deploy/cm.yaml", "deploy/notes.txt", "deploy/logo.png")),
		artifactCase("sourceignore", "a .sourceignore file at the root excludes what it matches",
			merge(ignoreTree, map[string]string{".sourceignore": "extra/\n*.png\n"}), nil,
			filesCheck(".sourceignore", "deploy/cm.yaml", "deploy/notes.txt", ".github/workflows/x.yml")),
		artifactCase("sourceignore-nested", "a .sourceignore file in a directory applies below that directory only",
			merge(oneFile, map[string]string{"deploy/.sourceignore": "*.txt\n", "deploy/a.txt": "a", "top.txt": "t"}), nil,
			filesCheck("deploy/.sourceignore", "deploy/cm.yaml", "top.txt")),
		artifactCase("spec-ignore-overrules-sourceignore", "spec.ignore comes after .sourceignore, so it can re-include what a .sourceignore excluded",
			merge(oneFile, map[string]string{".sourceignore": "extra/\n", "extra/cm.yaml": configMap("extra", "1")}), ignore("!extra/\n"),
			filesCheck(".sourceignore", "deploy/cm.yaml", "extra/cm.yaml")),
		{Name: "artifact/ignore-change", Doc: "changing spec.ignore produces a new artifact for the same revision", run: func(t *T) {
			ns := t.Namespace()
			repo, sha := t.Repo(ignoreTree)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", sha))
			old := gr.Status.Artifact.Digest
			t.Update(gr, func() { s := "extra/\n"; gr.Spec.Ignore = &s })
			t.Eventually(wait, "a new artifact without extra/", func() (bool, string) {
				t.Get(gr)
				a := gr.Status.Artifact
				return a != nil && a.Digest != old && a.Revision == rev("main", sha) && gr.Status.ObservedGeneration == gr.Generation,
					fmt.Sprintf("artifact %+v", a)
			})
			if _, ok := t.Files(gr)["extra/cm.yaml"]; ok {
				t.Fatalf("extra/cm.yaml is still in the artifact after spec.ignore excluded it")
			}
		}},
		{Name: "artifact/removed-on-delete", Doc: "deleting the GitRepository removes it (finalizers done) and its artifact stops being served", run: func(t *T) {
			ns := t.Namespace()
			repo, sha := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", sha))
			u := gr.Status.Artifact.URL
			if code, err := t.artifactStatus(u); err != nil || code != 200 {
				t.Fatalf("GET %s before deletion: %d %v", u, code, err)
			}
			t.Delete(gr)
			t.Eventually(wait, "the GitRepository to be gone", func() (bool, string) {
				err := t.c.Get(t.ctx, client.ObjectKeyFromObject(gr), gr)
				return apierrors.IsNotFound(err), fmt.Sprintf("get: %v, finalizers %v", err, gr.Finalizers)
			})
			t.Eventually(wait, "the artifact URL to stop serving", func() (bool, string) {
				code, err := t.artifactStatus(u)
				return err == nil && code == 404, fmt.Sprintf("GET %s: %d %v", u, code, err)
			})
		}},
		{Name: "artifact/deterministic", Doc: "two GitRepositories of the same commit and rules produce the same digest", run: func(t *T) {
			ns := t.Namespace()
			repo, sha := t.Repo(ignoreTree)
			a := t.SourceReady(t.GitRepository(ns, "a", repo.URL), rev("main", sha))
			b := t.SourceReady(t.GitRepository(ns, "b", repo.URL), rev("main", sha))
			if a.Status.Artifact.Digest != b.Status.Artifact.Digest {
				t.Fatalf("same tree, different digests: %s and %s", a.Status.Artifact.Digest, b.Status.Artifact.Digest)
			}
			if strings.EqualFold(a.Status.Artifact.URL, b.Status.Artifact.URL) {
				t.Fatalf("two GitRepositories share the artifact URL %s", a.Status.Artifact.URL)
			}
		}},
	}
}
