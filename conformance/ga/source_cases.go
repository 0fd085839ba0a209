package ga

import (
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var oneFile = map[string]string{"deploy/cm.yaml": configMap("one", "v1")}

func withRef(ref sourcev1.GitRepositoryRef) func(*sourcev1.GitRepository) {
	return func(gr *sourcev1.GitRepository) { gr.Spec.Reference = &ref }
}

// refCase checks the revision a reference resolves to: prepare commits to
// the repository and returns the ref and the expected revision.
func refCase(name, doc string, prepare func(r *Repo, first string) (sourcev1.GitRepositoryRef, string)) Case {
	return Case{Name: "gitrepository/" + name, Doc: doc, run: func(t *T) {
		ns := t.Namespace()
		repo, first := t.Repo(oneFile)
		ref, want := prepare(repo, first)
		gr := t.GitRepository(ns, "src", repo.URL, withRef(ref))
		t.SourceReady(gr, want)
	}}
}

func sourceCases() []Case {
	return []Case{
		refCase("revision-branch", "a branch resolves to <branch>@sha1:<commit> of the branch's head",
			func(r *Repo, _ string) (sourcev1.GitRepositoryRef, string) {
				head := r.Commit("second", map[string]string{"deploy/cm.yaml": configMap("one", "v2")})
				return sourcev1.GitRepositoryRef{Branch: "main"}, rev("main", head)
			}),
		refCase("revision-other-branch", "a branch other than the default resolves to its own head",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Git("checkout", "--quiet", "-b", "feature")
				head := r.Commit("feature", map[string]string{"x.yaml": configMap("x", "1")})
				r.Git("checkout", "--quiet", "main")
				return sourcev1.GitRepositoryRef{Branch: "feature"}, rev("feature", head)
			}),
		refCase("revision-tag", "a lightweight tag resolves to <tag>@sha1:<commit>",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v1.0.0")
				r.Commit("after the tag", map[string]string{"later.yaml": configMap("later", "1")})
				return sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, rev("v1.0.0", first)
			}),
		refCase("revision-annotated-tag", "an annotated tag resolves to the commit it points at, not the tag object",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.AnnotatedTag("v2.0.0")
				return sourcev1.GitRepositoryRef{Tag: "v2.0.0"}, rev("v2.0.0", first)
			}),
		refCase("revision-semver", "a semver range picks the highest matching tag",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v1.0.0")
				mid := r.Commit("1.2", map[string]string{"v.yaml": configMap("v", "1.2")})
				r.Tag("v1.2.0")
				r.Commit("2.0", map[string]string{"v.yaml": configMap("v", "2.0")})
				r.Tag("v2.0.0")
				return sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, rev("v1.2.0", mid)
			}),
		refCase("revision-semver-prerelease", "a plain semver range ignores pre-release tags",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v1.0.0")
				r.Commit("rc", map[string]string{"v.yaml": configMap("v", "rc")})
				r.Tag("v1.1.0-rc.1")
				return sourcev1.GitRepositoryRef{SemVer: "1.x"}, rev("v1.0.0", first)
			}),
		refCase("revision-commit", "a commit alone resolves to sha1:<commit> with no ref name",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Commit("second", map[string]string{"x.yaml": configMap("x", "2")})
				return sourcev1.GitRepositoryRef{Commit: first}, "sha1:" + first
			}),
		refCase("revision-branch-and-commit", "a commit with its branch resolves to <branch>@sha1:<commit>, even when older than the head",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Commit("second", map[string]string{"x.yaml": configMap("x", "2")})
				return sourcev1.GitRepositoryRef{Branch: "main", Commit: first}, rev("main", first)
			}),
		refCase("revision-name-branch", "a ref name resolves to <full ref name>@sha1:<commit>",
			func(r *Repo, _ string) (sourcev1.GitRepositoryRef, string) {
				head := r.Commit("second", map[string]string{"x.yaml": configMap("x", "2")})
				return sourcev1.GitRepositoryRef{Name: "refs/heads/main"}, rev("refs/heads/main", head)
			}),
		refCase("revision-name-tag", "a tag named by its full ref resolves to refs/tags/<tag>@sha1:<commit>",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v3.0.0")
				r.Commit("later", map[string]string{"x.yaml": configMap("x", "2")})
				return sourcev1.GitRepositoryRef{Name: "refs/tags/v3.0.0"}, rev("refs/tags/v3.0.0", first)
			}),
		refCase("ref-precedence-name", "name takes precedence over branch, tag and semver",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v1.0.0")
				r.Commit("later", map[string]string{"x.yaml": configMap("x", "2")})
				return sourcev1.GitRepositoryRef{Name: "refs/tags/v1.0.0", Branch: "main", SemVer: "*"}, rev("refs/tags/v1.0.0", first)
			}),
		refCase("ref-precedence-semver", "semver takes precedence over branch",
			func(r *Repo, first string) (sourcev1.GitRepositoryRef, string) {
				r.Tag("v0.1.0")
				head := r.Commit("later", map[string]string{"x.yaml": configMap("x", "2")})
				r.Tag("v0.2.0")
				return sourcev1.GitRepositoryRef{SemVer: "0.x", Branch: "main"}, rev("v0.2.0", head)
			}),
		{Name: "gitrepository/ready-conditions", Doc: "a fetched source is Ready=True with ArtifactInStorage=True and observedGeneration current", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			if c := apimeta.FindStatusCondition(gr.Status.Conditions, sourcev1.ArtifactInStorageCondition); c == nil || c.Status != metav1.ConditionTrue {
				t.Fatalf("ArtifactInStorage condition = %+v, want True", c)
			}
			if c := apimeta.FindStatusCondition(gr.Status.Conditions, meta.ReadyCondition); c.Reason != meta.SucceededReason {
				t.Fatalf("Ready reason = %q, want %q", c.Reason, meta.SucceededReason)
			}
		}},
		{Name: "gitrepository/missing-branch", Doc: "a branch that does not exist gives Ready=False and FetchFailed=True", run: func(t *T) {
			ns := t.Namespace()
			repo, _ := t.Repo(oneFile)
			gr := t.GitRepository(ns, "src", repo.URL, withRef(sourcev1.GitRepositoryRef{Branch: "does-not-exist"}))
			t.WaitReady(gr, metav1.ConditionFalse, func() (bool, string) {
				c := apimeta.FindStatusCondition(gr.Status.Conditions, sourcev1.FetchFailedCondition)
				return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprintf("FetchFailed=%+v", c)
			})
			if gr.Status.Artifact != nil {
				t.Fatalf("an artifact was produced for a missing branch: %s", gr.Status.Artifact.Revision)
			}
		}},
		{Name: "gitrepository/unreachable-url", Doc: "a repository that does not exist gives Ready=False and FetchFailed=True", run: func(t *T) {
			ns := t.Namespace()
			repo, _ := t.Repo(oneFile)
			gr := t.GitRepository(ns, "src", strings.TrimSuffix(repo.URL, ".git")+"-missing.git")
			t.WaitReady(gr, metav1.ConditionFalse, func() (bool, string) {
				c := apimeta.FindStatusCondition(gr.Status.Conditions, sourcev1.FetchFailedCondition)
				return c != nil && c.Status == metav1.ConditionTrue, fmt.Sprintf("FetchFailed=%+v", c)
			})
		}},
		{Name: "gitrepository/basic-auth", Doc: "spec.secretRef username/password authenticate over HTTP; without them the fetch fails", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			t.s.git.RequireBasicAuth(repo.Name, "git", "s3cret")
			anon := t.GitRepository(ns, "anon", repo.URL)
			t.WaitReady(anon, metav1.ConditionFalse)
			t.Create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
				StringData: map[string]string{"username": "git", "password": "s3cret"}})
			gr := t.GitRepository(ns, "authed", repo.URL, func(gr *sourcev1.GitRepository) {
				gr.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
			})
			t.SourceReady(gr, rev("main", first))
		}},
		{Name: "gitrepository/new-commit", Doc: "a new commit is picked up on the next reconciliation with a new revision and digest", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			old := gr.Status.Artifact.Digest
			second := repo.Commit("second", map[string]string{"deploy/cm.yaml": configMap("one", "v2")})
			t.RequestReconcile(gr)
			t.SourceReady(gr, rev("main", second))
			if gr.Status.Artifact.Digest == old {
				t.Fatalf("digest %s did not change with the content", old)
			}
		}},
		{Name: "gitrepository/ref-change", Doc: "changing spec.ref switches the artifact to the new ref", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			repo.Git("checkout", "--quiet", "-b", "other")
			other := repo.Commit("other", map[string]string{"x.yaml": configMap("x", "other")})
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			t.Update(gr, func() { gr.Spec.Reference = &sourcev1.GitRepositoryRef{Branch: "other"} })
			t.SourceReady(gr, rev("other", other))
		}},
		{Name: "gitrepository/skip-unchanged", Doc: "reconciling an unchanged revision keeps the artifact: same digest, same lastUpdateTime", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			before := *gr.Status.Artifact
			time.Sleep(1100 * time.Millisecond) // lastUpdateTime has a resolution of one second
			t.Reconcile(gr)
			t.SourceReady(gr, rev("main", first))
			after := gr.Status.Artifact
			if after.Digest != before.Digest || !after.LastUpdateTime.Equal(&before.LastUpdateTime) {
				t.Fatalf("artifact changed without a new commit: digest %s → %s, lastUpdateTime %s → %s",
					before.Digest, after.Digest, before.LastUpdateTime, after.LastUpdateTime)
			}
		}},
		{Name: "gitrepository/suspend", Doc: "a suspended GitRepository ignores new commits until resumed", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			t.Update(gr, func() { gr.Spec.Suspend = true })
			second := repo.Commit("second", map[string]string{"x.yaml": configMap("x", "2")})
			t.RequestReconcile(gr)
			t.Consistently(3*time.Second, "the revision to stay at the first commit while suspended", func() (bool, string) {
				t.Get(gr)
				return gr.Status.Artifact.Revision == rev("main", first), "revision " + gr.Status.Artifact.Revision
			})
			t.Update(gr, func() { gr.Spec.Suspend = false })
			t.SourceReady(gr, rev("main", second))
		}},
		{Name: "gitrepository/observed-generation", Doc: "a spec change is reflected in status.observedGeneration", run: func(t *T) {
			ns := t.Namespace()
			repo, first := t.Repo(oneFile)
			gr := t.SourceReady(t.GitRepository(ns, "src", repo.URL), rev("main", first))
			t.Update(gr, func() { gr.Spec.Timeout = &metav1.Duration{Duration: 45 * time.Second} })
			t.SourceReady(gr, rev("main", first))
			if gr.Generation < 2 {
				t.Fatalf("generation %d did not grow with the spec change", gr.Generation)
			}
		}},
	}
}
