package ga

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/conformance/gitserver"
)

// Options select and tune a run. The zero value runs every portable case
// with the defaults below.
type Options struct {
	// Run selects the cases whose name matches (nil: all).
	Run *regexp.Regexp
	// ReceiverURL is the base URL of the implementation's Receiver HTTP
	// endpoint (the part before /hook/...). Empty skips the cases that POST
	// to a webhook.
	ReceiverURL string
	// ArtifactBaseURL, when set, replaces the scheme and host of the
	// artifact URLs the suite downloads (for a port-forward to an
	// in-cluster artifact server).
	ArtifactBaseURL string
	// GitListenAddr is where the suite's git server listens (default
	// 127.0.0.1:0); GitAdvertiseHost is the host (and optional port) the
	// implementation reaches it at (default: the listen address).
	GitListenAddr    string
	GitAdvertiseHost string
	// IncludeWeirOnly also runs the cases that assert Weir's intentional
	// departures from Flux.
	IncludeWeirOnly bool
	// Parallel is how many cases run at once (default 8).
	Parallel int
	// CaseTimeout bounds one case (default 2m).
	CaseTimeout time.Duration
	// Progress, if set, gets one line per finished case.
	Progress io.Writer
}

// Status is a case's outcome.
type Status string

// The outcomes.
const (
	Passed  Status = "pass"
	Failed  Status = "fail"
	Skipped Status = "skip"
)

// Result is one case's outcome.
type Result struct {
	Name     string
	Area     string
	Status   Status
	Message  string
	Duration time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Results  []Result
	Duration time.Duration
}

// Count returns how many cases ended with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, c := range r.Results {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Case is one conformance case.
type Case struct {
	// Name is area/what, e.g. gitrepository/revision-branch.
	Name string
	// Doc says which part of the contract the case checks.
	Doc string
	// NeedsReceiver cases POST to the Receiver endpoint.
	NeedsReceiver bool
	// WeirOnly cases assert a documented, intentional Weir difference.
	WeirOnly bool
	run      func(t *T)
}

// Area is the part of Name before the slash.
func (c Case) Area() string {
	area, _, _ := strings.Cut(c.Name, "/")
	return area
}

// Cases lists every case of the suite in a stable order.
func Cases() []Case {
	var all []Case
	all = append(all, sourceCases()...)
	all = append(all, artifactCases()...)
	all = append(all, kustomizationCases()...)
	all = append(all, kustomizationPolicyCases()...)
	all = append(all, receiverCases()...)
	return all
}

// NewScheme returns a scheme with the kinds the suite reads and writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		sourcev1.AddToScheme, kustomizev1.AddToScheme, notificationv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build the scheme: %w", err)
		}
	}
	return s, nil
}

// Run runs the selected cases against the cluster cfg reaches and returns
// their results. The error is about the run itself (the cluster cannot be
// reached, the git server cannot start); failed cases are in the Report.
func Run(ctx context.Context, cfg *rest.Config, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.CaseTimeout <= 0 {
		o.CaseTimeout = 2 * time.Minute
	}
	var cases []Case
	for _, tc := range Cases() {
		if o.Run == nil || o.Run.MatchString(tc.Name) {
			cases = append(cases, tc)
		}
	}
	if len(cases) == 0 {
		return nil, errors.New("no case matches the selection")
	}
	sch, err := NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		return nil, fmt.Errorf("create the client: %w", err)
	}
	root, err := os.MkdirTemp("", "ga-conformance-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	bare, work := filepath.Join(root, "git"), filepath.Join(root, "work")
	for _, d := range []string{bare, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	git, err := gitserver.Start(gitserver.Options{Root: bare, ListenAddr: o.GitListenAddr, AdvertiseHost: o.GitAdvertiseHost})
	if err != nil {
		return nil, err
	}
	defer git.Close()
	s := &suite{opts: o, c: c, git: git, workDir: work, runID: rand.String(5)}
	start := time.Now()
	removeCRD, err := installProbeCRD(ctx, c)
	if err != nil {
		return nil, err
	}
	defer removeCRD()

	results := make([]Result, len(cases))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = s.runCase(ctx, tc)
			if o.Progress != nil {
				mu.Lock()
				fmt.Fprintf(o.Progress, "%-4s %-55s %6.1fs %s\n", results[i].Status, tc.Name, results[i].Duration.Seconds(), firstLine(results[i].Message))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(results, func(a, b int) bool { return results[a].Name < results[b].Name })
	return &Report{Results: results, Duration: time.Since(start)}, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// validate checks the URLs of o.
func (o Options) validate() error {
	for _, u := range []struct{ flag, value string }{{"receiver URL", o.ReceiverURL}, {"artifact base URL", o.ArtifactBaseURL}} {
		if u.value == "" {
			continue
		}
		p, err := url.Parse(u.value)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("the %s %q is not an absolute http(s) URL", u.flag, u.value)
		}
	}
	return nil
}
