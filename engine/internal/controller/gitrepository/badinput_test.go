package gitrepository

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sourcegit "github.com/weir-gitops/weir/engine/internal/source/git"
	"github.com/weir-gitops/weir/engine/internal/testenv"
)

// Trees that name "..", ".git" or links out of the checkout never write
// outside it: the first two fail the fetch, links never enter an artifact.
func TestHostileTrees(t *testing.T) {
	f := start(t)
	git := testenv.NewGitServer(t)
	repo := git.NewRepo(t, "evil")
	repo.Commit("base", map[string]string{"ok.yaml": "ok: 1\n"})
	file := func(p, c string) testenv.RawEntry { return testenv.RawEntry{Path: p, Mode: "100644", Content: c} }
	link := func(p, to string) testenv.RawEntry { return testenv.RawEntry{Path: p, Mode: "120000", Content: to} }
	repo.CommitRawTree("dotdot", "climb", []testenv.RawEntry{file("ok.yaml", "ok: 1\n"), file("../escaped", "pwned\n")})
	repo.CommitRawTree("deep-dotdot", "climb", []testenv.RawEntry{file("ok.yaml", "ok: 1\n"), file("a/../../escaped", "pwned\n")})
	repo.CommitRawTree("dotgit", "hook", []testenv.RawEntry{file("ok.yaml", "ok: 1\n"), file(".git/hooks/post-checkout", "#!/bin/sh\ntouch pwned\n")})
	repo.CommitRawTree("nested-dotgit", "hook", []testenv.RawEntry{file("ok.yaml", "ok: 1\n"), file("sub/.git/config", "[core]\n")})
	links := repo.CommitRawTree("links", "links", []testenv.RawEntry{
		file("ok.yaml", "ok: 1\n"),
		link("passwd.yaml", "/etc/passwd"), link("up", "../../.."), link("etc", "/etc"),
		link(".sourceignore", "/etc/passwd"), link("inside.yaml", "ok.yaml"),
	})
	ns := env.Namespace(t)
	ctx := context.Background()
	tests := []struct {
		branch, msg string // msg empty: ready
	}{
		{"dotdot", "invalid path in tree: '..'"},
		{"deep-dotdot", "invalid path in tree: 'a/..'"},
		{"dotgit", "invalid path in tree: '.git'"},
		{"nested-dotgit", "invalid path in tree: 'sub/.git'"},
		{"links", ""},
	}
	for _, tt := range tests {
		t.Run(tt.branch, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, tt.branch, git.URL("evil"), func(o *sourcev1.GitRepository) { o.Spec.Reference.Branch = tt.branch })
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			key := client.ObjectKeyFromObject(obj)
			if tt.msg == "" {
				got := waitReady(t, key, "links@sha1:"+links)
				// Links are dropped, whether they point in or out.
				g.Expect(testenv.TarNames(t, fetch(t, got.Status.Artifact.URL))).To(Equal([]string{"ok.yaml"}))
			} else {
				got := waitFailed(t, key, sourcev1.GitOperationFailedReason)
				g.Expect(conditions.IsTrue(got, sourcev1.FetchFailedCondition)).To(BeTrue())
				g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(tt.msg))
				g.Expect(got.Status.Artifact).To(BeNil())
			}
			// Nothing was left in, or written next to, the checkouts.
			g.Eventually(func() ([]os.DirEntry, error) { return os.ReadDir(f.work) }, 5*time.Second, 50*time.Millisecond).Should(BeEmpty())
			_, err := os.Stat(filepath.Join(filepath.Dir(f.work), "escaped"))
			g.Expect(os.IsNotExist(err)).To(BeTrue())
		})
	}
}

// A remote that streams without end is cut off by the size cap when it is
// fast and by spec.timeout when it is slow.
func TestEndlessPack(t *testing.T) {
	start(t, func(r *Reconciler) { r.Fetcher = sourcegit.Client{MaxSize: 1 << 20} })
	git := testenv.NewGitServer(t)
	git.NewRepo(t, "app").Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	fast := git.EndlessPack(t, 0)
	slow := git.EndlessPack(t, 200*time.Millisecond)
	ns := env.Namespace(t)
	ctx := context.Background()
	tests := []struct {
		name, url, msg string
	}{
		{"fast", fast.URL + "/app.git", "repository exceeds the size limit of 1048576 bytes"},
		{"slow", slow.URL + "/app.git", "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			obj := testenv.GitRepository(ns, tt.name, tt.url, func(o *sourcev1.GitRepository) {
				o.Spec.Timeout = &metav1.Duration{Duration: 3 * time.Second}
			})
			g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
			got := waitFailed(t, client.ObjectKeyFromObject(obj), sourcev1.GitOperationFailedReason)
			g.Expect(conditions.IsTrue(got, sourcev1.FetchFailedCondition)).To(BeTrue())
			g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring(tt.msg))
			g.Expect(got.Status.Artifact).To(BeNil())
		})
	}
}

// A redirect to another host is followed for the first request, as git
// does, but the credentials stay behind: the other host never sees them.
func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
	g := NewWithT(t)
	start(t)
	other := testenv.NewGitServer(t, testenv.GitBasicAuth("git", "hunter2-redirect"))
	other.NewRepo(t, "app").Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	// Same machine, another origin: localhost instead of 127.0.0.1.
	target := strings.Replace(strings.TrimSuffix(other.URL("app"), "/app.git"), "127.0.0.1", "localhost", 1)
	var mu sync.Mutex
	var sent []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(origin.Close)
	ns := env.Namespace(t)
	ctx := context.Background()
	g.Expect(env.Client.Create(ctx, testenv.Secret(ns, "creds", map[string]string{"username": "git", "password": "hunter2-redirect"}))).To(Succeed())
	obj := testenv.GitRepository(ns, "app", origin.URL+"/app.git", func(o *sourcev1.GitRepository) {
		o.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
	})
	g.Expect(env.Client.Create(ctx, obj)).To(Succeed())
	got := waitFailed(t, client.ObjectKeyFromObject(obj), sourcev1.GitOperationFailedReason)
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(ContainSubstring("authentication required"))
	mu.Lock()
	g.Expect(sent).NotTo(BeEmpty())
	g.Expect(sent[0]).To(HavePrefix("Basic "), "the origin gets the credentials")
	mu.Unlock()
	reqs := other.Requests()
	g.Expect(reqs).NotTo(BeEmpty(), "the redirect was followed")
	for _, r := range reqs {
		g.Expect(r.Authorization).To(BeEmpty(), "credentials sent to another host: %s %s", r.Method, r.Path)
	}
}

// Sparse checkout directories that leave the repository stall the object
// before anything is fetched.
func TestSparseCheckoutOutsideRoot(t *testing.T) {
	g := NewWithT(t)
	start(t)
	git := testenv.NewGitServer(t)
	git.NewRepo(t, "app").Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	ns := env.Namespace(t)
	obj := testenv.GitRepository(ns, "up", git.URL("app"), func(o *sourcev1.GitRepository) {
		o.Spec.SparseCheckout = []string{"deploy", "../../etc"}
	})
	g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	got := waitFailed(t, client.ObjectKeyFromObject(obj), illegalPathReason)
	g.Expect(conditions.IsStalled(got)).To(BeTrue())
	g.Expect(conditions.GetMessage(got, meta.ReadyCondition)).To(Equal("sparse checkout dir '../../etc' is outside the repository"))
	g.Expect(git.Requests()).To(BeEmpty())
}
