package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EventQuery selects the events that events prints.
type EventQuery struct {
	Namespace     string
	AllNamespaces bool
	// For keeps only the events of one object, as Kind/name (any name of
	// the kind works: ks/apps, Kustomization/apps).
	For string
}

// Events lists the Kubernetes events about GitRepositories,
// Kustomizations, Receivers and Plugins, oldest first.
func (c *Console) Events(ctx context.Context, q EventQuery) ([]corev1.Event, error) {
	var forKind, forName string
	if q.For != "" {
		kind, name, ok := strings.Cut(q.For, "/")
		if !ok || name == "" {
			return nil, fmt.Errorf("--for %q: want Kind/name, e.g. Kustomization/apps", q.For)
		}
		k, err := LookupKind(kind)
		if err != nil {
			return nil, err
		}
		forKind, forName = k.Kind, name
	}
	list := &corev1.EventList{}
	var opts []client.ListOption
	if !q.AllNamespaces {
		opts = append(opts, client.InNamespace(q.Namespace))
	}
	if err := c.kube.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		o := e.InvolvedObject
		gv, err := schema.ParseGroupVersion(o.APIVersion)
		if err != nil || !isOwnKind(gv.Group, o.Kind) {
			continue
		}
		if forKind != "" && (o.Kind != forKind || o.Name != forName) {
			continue
		}
		out = append(out, e)
	}
	SortEvents(out)
	return out, nil
}

// SortEvents orders events by when they were last seen, oldest first, so
// the newest is at the bottom of a terminal.
func SortEvents(events []corev1.Event) {
	slices.SortStableFunc(events, func(a, b corev1.Event) int {
		if c := lastSeen(a).Compare(lastSeen(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
}

// lastSeen is the newest of the times an event may carry: events written
// through the core/v1 API have LastTimestamp, those written through
// events.k8s.io/v1 have EventTime and a Series.
func lastSeen(e corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func firstSeen(e corev1.Event) time.Time {
	switch {
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return lastSeen(e)
}

// WriteEvents prints events as flux events does: LAST SEEN, TYPE, REASON,
// OBJECT, MESSAGE, with NAMESPACE first for all namespaces. Ages are
// relative to now; repeated events show their count and span.
func WriteEvents(w io.Writer, events []corev1.Event, now time.Time, allNamespaces, color bool) error {
	t := table{paint: paintStatus}
	if allNamespaces {
		t.header = append(t.header, "NAMESPACE")
	}
	t.header = append(t.header, "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	for _, e := range events {
		var cells []string
		if allNamespaces {
			cells = append(cells, e.Namespace)
		}
		age := duration.HumanDuration(now.Sub(lastSeen(e)))
		if count := eventCount(e); count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", age, count, duration.HumanDuration(now.Sub(firstSeen(e))))
		}
		cells = append(cells, age, e.Type, e.Reason, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name, oneLine(e.Message))
		t.rows = append(t.rows, cells)
	}
	return t.write(w, color)
}

func eventCount(e corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return e.Count
}

// PrintEvents lists and prints events; with none it says so on stderr.
func (c *Console) PrintEvents(ctx context.Context, q EventQuery) error {
	events, err := c.Events(ctx, q)
	if err != nil {
		return err
	}
	if len(events) == 0 {
		where := "in " + q.Namespace + " namespace"
		if q.AllNamespaces {
			where = "in any namespace"
		}
		fmt.Fprintf(c.err, "no events found %s\n", where)
		return nil
	}
	return WriteEvents(c.out, events, c.now(), q.AllNamespaces, c.color)
}
