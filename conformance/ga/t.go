package ga

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/conformance/gitserver"
)

// runLabel marks the namespaces of one run, so that they can be found and
// removed.
const runLabel = "conformance.weir.dev/run"

type suite struct {
	opts Options
	c    client.Client
	git  *gitserver.Server
	// workDir holds the working copies, apart from the served repositories.
	workDir string
	runID   string
}

// T is a case's handle, like testing.T: it fails, skips, waits and
// creates the case's objects, and removes them when the case ends.
type T struct {
	ctx  context.Context
	s    *suite
	name string
	c    client.Client

	mu       sync.Mutex
	status   Status
	msg      string
	cleanups []func()
}

func (s *suite) runCase(parent context.Context, tc Case) (res Result) {
	res = Result{Name: tc.Name, Area: tc.Area()}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	switch {
	case tc.WeirOnly && !s.opts.IncludeWeirOnly:
		res.Status, res.Message = Skipped, "Weir-only case (asserts an intentional difference from Flux); enable it with --weir-only"
		return res
	case tc.NeedsReceiver && s.opts.ReceiverURL == "":
		res.Status, res.Message = Skipped, "needs the Receiver endpoint: pass --receiver-url"
		return res
	}
	ctx, cancel := context.WithTimeout(parent, s.opts.CaseTimeout)
	defer cancel()
	t := &T{ctx: ctx, s: s, name: tc.Name, c: s.c, status: Passed}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				t.record(Failed, fmt.Sprintf("panic: %v", r))
			}
		}()
		tc.run(t)
	}()
	<-done
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	res.Status, res.Message = t.status, t.msg
	return res
}

func (t *T) record(s Status, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.status == Passed {
		t.status, t.msg = s, msg
	}
}

// Fatalf fails the case with a message and stops it.
func (t *T) Fatalf(format string, args ...any) {
	t.record(Failed, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// Skipf skips the case with a reason and stops it.
func (t *T) Skipf(format string, args ...any) {
	t.record(Skipped, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// Check fails the case when err is not nil.
func (t *T) Check(err error, what string) {
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Cleanup registers f to run when the case ends, last registered first.
func (t *T) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

// Eventually polls cond until it reports true or timeout passes; then the
// case fails with what it was waiting for and the last state cond saw.
func (t *T) Eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) || t.ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		select {
		case <-t.ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Consistently fails the case as soon as cond reports false within d.
func (t *T) Consistently(d time.Duration, what string, cond func() (bool, string)) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, state := cond(); !ok {
			t.Fatalf("expected %s for %s, but: %s", what, d, state)
		}
		select {
		case <-t.ctx.Done():
			t.Fatalf("case timed out while checking %s", what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Namespace creates a namespace for the case and removes it when the case
// ends.
func (t *T) Namespace() string {
	base := strings.NewReplacer("/", "-", "_", "-", ".", "-").Replace(t.name)
	if len(base) > 45 {
		base = base[:45]
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   strings.Trim(base, "-") + "-" + rand.String(5),
		Labels: map[string]string{runLabel: t.s.runID},
	}}
	t.Check(t.c.Create(t.ctx, ns), "create the case's namespace")
	t.Cleanup(func() { _ = t.s.c.Delete(context.Background(), ns) })
	return ns.Name
}

// Create creates objects, in order.
func (t *T) Create(objs ...client.Object) {
	for _, o := range objs {
		if err := t.c.Create(t.ctx, o); err != nil {
			t.Fatalf("create %T %s/%s: %v", o, o.GetNamespace(), o.GetName(), err)
		}
	}
}

// Get reads obj by its key; it reports whether it exists.
func (t *T) Get(obj client.Object) bool {
	err := t.c.Get(t.ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return err == nil
}

// Update re-reads obj, applies mutate and writes it back, retrying on
// conflicts.
func (t *T) Update(obj client.Object, mutate func()) {
	for range 10 {
		if !t.Get(obj) {
			t.Fatalf("update %T %s/%s: not found", obj, obj.GetNamespace(), obj.GetName())
		}
		mutate()
		err := t.c.Update(t.ctx, obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatalf("update %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	t.Fatalf("update %T %s/%s: conflicts kept coming", obj, obj.GetNamespace(), obj.GetName())
}

// Delete deletes obj; a missing object is not an error.
func (t *T) Delete(obj client.Object) {
	if err := t.c.Delete(t.ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

// Repo creates a git repository on the suite's server with an initial
// commit of files; it returns the repository and the commit's SHA-1.
func (t *T) Repo(files map[string]string) (*Repo, string) {
	t.mu.Lock()
	name := strings.ReplaceAll(t.name, "/", "-") + "-" + rand.String(5)
	t.mu.Unlock()
	r, err := t.s.git.NewRepo(name, filepath.Join(t.s.workDir, name))
	t.Check(err, "create the git repository")
	repo := &Repo{t: t, r: r, URL: t.s.git.URL(name), Name: name}
	return repo, repo.Commit("initial", files)
}

// Repo is a git repository of a case; its methods fail the case on error.
type Repo struct {
	t    *T
	r    *gitserver.Repo
	URL  string
	Name string
}

// Commit commits files (empty content deletes) and pushes; it returns the
// commit's SHA-1.
func (r *Repo) Commit(msg string, files map[string]string) string {
	sha, err := r.r.Commit(msg, files)
	r.t.Check(err, "commit to the git repository")
	return sha
}

// Tag tags HEAD (lightweight) and pushes the tag.
func (r *Repo) Tag(name string) { r.t.Check(r.r.Tag(name), "tag") }

// AnnotatedTag tags HEAD with an annotated tag and pushes it.
func (r *Repo) AnnotatedTag(name string) { r.t.Check(r.r.AnnotatedTag(name), "tag") }

// Git runs git in the working copy.
func (r *Repo) Git(args ...string) string {
	out, err := r.r.Git(args...)
	r.t.Check(err, "git")
	return out
}
