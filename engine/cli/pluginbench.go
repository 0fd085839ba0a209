package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/weir-gitops/weir/engine/internal/oci"
	"github.com/weir-gitops/weir/engine/internal/plugin"
	"github.com/weir-gitops/weir/plugins/sdk/abi"
	"github.com/weir-gitops/weir/plugins/sdk/sdktest"
)

type benchFlags struct {
	callFlags
	count    int
	duration time.Duration
	large    int
	output   string
}

func newBenchCmd(stdout, stderr io.Writer, regOpts func() []oci.Option) *cobra.Command {
	f := benchFlags{duration: 5 * time.Second, output: "text"}
	cmd := &cobra.Command{
		Use:   "bench FILE.wasm|REF (--input FILE|- | --large N) [--kind ...] [--count N | --duration D]",
		Short: "Measure a plugin's extension point on a warm instance",
		Long: `Loads the module as 'engine plugin run' does, makes one call to warm an
instance up (not measured), then calls the same extension point on that
instance --count times, or for --duration, and reports:

  calls, and mean, p50 and p99 time per call
  time per object: per item for a transform, per object for health (each call
    judges the next object of --input), per event for notify
  host allocations per call (runtime.MemStats deltas over the measured calls,
    as testing.AllocsPerRun does), and bytes allocated per call
  the guest's linear memory after the run (pages of 64 KiB)

The time includes encoding the input and decoding the output on the host,
as a call from the engine does. Guest logs are discarded. -o json prints the
same as one JSON object. --large N replaces --input with N ConfigMaps of
about 2 KB each (transform only).`,
		Example: `  engine plugin bench bin/plugins/add-labels.wasm --large 1000 --count 20
  engine plugin bench bin/plugins/phase-health.wasm -i databases.yaml --duration 10s -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, stdout, stderr, args[0], f, regOpts)
		},
	}
	f.bind(cmd.Flags())
	fl := cmd.Flags()
	fl.IntVar(&f.count, "count", 0, "Measure exactly N calls.")
	fl.DurationVar(&f.duration, "duration", f.duration, "Measure calls for this long (when --count is not given).")
	fl.IntVar(&f.large, "large", 0, "Use N generated ConfigMaps of about 2 KB each as the transform input.")
	fl.StringVarP(&f.output, "output", "o", f.output, "text or json.")
	cmd.MarkFlagsMutuallyExclusive("count", "duration")
	cmd.MarkFlagsMutuallyExclusive("large", "input")
	return cmd
}

// benchReport is what bench prints; durations in nanoseconds.
type benchReport struct {
	Module           string  `json:"module"`
	Version          string  `json:"version"`
	Digest           string  `json:"digest"`
	Kind             string  `json:"kind"`
	Objects          int     `json:"objects"` // items per call, objects judged in turn, or 1 event
	Calls            int     `json:"calls"`
	TotalNs          int64   `json:"totalNs"`
	MeanNs           int64   `json:"meanNs"`
	P50Ns            int64   `json:"p50Ns"`
	P99Ns            int64   `json:"p99Ns"`
	PerObjectNs      int64   `json:"perObjectNs"`
	AllocsPerCall    float64 `json:"allocsPerCall"`
	BytesPerCall     float64 `json:"allocBytesPerCall"`
	GuestMemoryBytes uint64  `json:"guestMemoryBytes"`
	GuestMemoryPages uint64  `json:"guestMemoryPages"`
}

func runBench(cmd *cobra.Command, stdout, stderr io.Writer, arg string, f benchFlags, regOpts func() []oci.Option) error {
	switch {
	case f.output != "text" && f.output != "json":
		return fmt.Errorf("-o %q: want text or json", f.output)
	case f.count < 0 || f.large < 0:
		return errors.New("--count and --large must not be negative")
	case f.input == "" && f.large == 0:
		return errors.New("--input (a file, or - for stdin) or --large N is required")
	}
	r := runner{stderr: io.Discard, output: "yaml", replaceConfig: f.config != ""}
	if f.input != "" {
		in, err := readPluginInput(f.input, cmd.InOrStdin())
		if err != nil {
			return err
		}
		r.in = in
	}
	prepare := func(kind abi.Capability) error {
		if f.large == 0 {
			return r.prepare(kind)
		}
		if kind != abi.CapabilityTransform {
			return fmt.Errorf("--large generates transform input; give %s input with --input", kind)
		}
		r.rl = &abi.ResourceList{Items: sdktest.ConfigMaps(f.large)}
		return nil
	}
	ctx := cmd.Context()
	s, err := f.open(ctx, stderr, arg, logr.Discard(), regOpts(), prepare)
	if err != nil {
		return err
	}
	defer s.close(context.WithoutCancel(ctx))
	call, objects := benchCall(s, &r)
	if err := call(ctx, 0); err != nil {
		return fmt.Errorf("warm-up call: %w", err)
	}
	rep, err := measure(ctx, call, f.count, f.duration)
	if err != nil {
		return err
	}
	mem, err := s.p.GuestMemoryBytes(ctx)
	if err != nil {
		return fmt.Errorf("read guest memory: %w", err)
	}
	rep.Module, rep.Version, rep.Digest, rep.Kind = s.meta.Name, s.meta.Version, s.p.Digest(), string(s.kind)
	rep.Objects, rep.GuestMemoryBytes, rep.GuestMemoryPages = objects, mem, mem/plugin.PageSize
	rep.PerObjectNs = rep.MeanNs
	if s.kind == abi.CapabilityTransform && objects > 0 {
		rep.PerObjectNs = rep.MeanNs / int64(objects)
	}
	if f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.write(stdout)
}

// benchCall returns the measured call (the i-th call) and the number of
// objects it is about. A transform's error results are an answer here.
func benchCall(s *session, r *runner) (func(context.Context, int) error, int) {
	switch s.kind {
	case abi.CapabilityTransform:
		return func(ctx context.Context, _ int) error {
			_, err := s.p.Transform(ctx, r.rl)
			return err
		}, len(r.rl.Items)
	case abi.CapabilityHealth:
		return func(ctx context.Context, i int) error {
			_, err := s.p.Health(ctx, r.objs[i%len(r.objs)])
			return err
		}, len(r.objs)
	default:
		return func(ctx context.Context, _ int) error {
			_, err := s.p.Notify(ctx, r.event)
			return err
		}, 1
	}
}

// measure makes count calls (or calls for d when count is 0, at least
// one) and times each, counting the host's allocations over all of them.
func measure(ctx context.Context, call func(context.Context, int) error, count int, d time.Duration) (benchReport, error) {
	var rep benchReport
	times := make([]time.Duration, 0, max(count, 1024))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 0; count > 0 && i < count || count == 0 && (i == 0 || time.Since(start) < d); i++ {
		t := time.Now()
		if err := call(ctx, i); err != nil {
			return rep, fmt.Errorf("call %d: %w", i+1, err)
		}
		times = append(times, time.Since(t))
	}
	total := time.Since(start)
	runtime.ReadMemStats(&after)
	n := len(times)
	slices.Sort(times)
	rank := func(q float64) time.Duration { return times[max(int(math.Ceil(q*float64(n)))-1, 0)] }
	var sum time.Duration
	for _, t := range times {
		sum += t
	}
	rep.Calls, rep.TotalNs = n, total.Nanoseconds()
	rep.MeanNs, rep.P50Ns, rep.P99Ns = (sum / time.Duration(n)).Nanoseconds(), rank(0.50).Nanoseconds(), rank(0.99).Nanoseconds()
	rep.AllocsPerCall = float64(after.Mallocs-before.Mallocs) / float64(n)
	rep.BytesPerCall = float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	return rep, nil
}

func (r benchReport) write(w io.Writer) error {
	per := map[string]string{"transform": "item", "health": "object", "notify": "event"}[r.Kind]
	_, err := fmt.Fprintf(w, `%s %s (%s) %s, %d %s(s)
calls         %d in %s
mean          %s
p50           %s
p99           %s
per %-9s %s
host allocs   %.0f per call (%s)
guest memory  %s (%d pages)
`, r.Module, r.Version, r.Digest, r.Kind, r.Objects, per,
		r.Calls, duration(r.TotalNs), duration(r.MeanNs), duration(r.P50Ns), duration(r.P99Ns),
		per, duration(r.PerObjectNs), r.AllocsPerCall, byteSize(uint64(r.BytesPerCall)),
		byteSize(r.GuestMemoryBytes), r.GuestMemoryPages)
	return err
}

// duration prints ns with three significant digits, in s, ms or µs.
func duration(ns int64) string {
	switch v := float64(ns); {
	case v >= 1e9:
		return fmt.Sprintf("%.3gs", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.3gms", v/1e6)
	}
	return fmt.Sprintf("%.3gµs", float64(ns)/1e3)
}

// byteSize prints n in B, KiB or MiB.
func byteSize(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
