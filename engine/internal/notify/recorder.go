package notify

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// Recorder returns an EventRecorder that records through base and queues a
// copy of each event, in Flux's format, for the notify plugins. controller
// is the reportingController (for example "kustomize-controller").
func (d *Dispatcher) Recorder(base record.EventRecorder, controller string, scheme *runtime.Scheme) record.EventRecorder {
	return &recorder{base: base, d: d, controller: controller, scheme: scheme}
}

type recorder struct {
	base       record.EventRecorder
	d          *Dispatcher
	controller string
	scheme     *runtime.Scheme
}

func (r *recorder) Event(obj runtime.Object, eventtype, reason, message string) {
	r.base.Event(obj, eventtype, reason, message)
	r.queue(obj, nil, eventtype, reason, message)
}

func (r *recorder) Eventf(obj runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.base.Eventf(obj, eventtype, reason, messageFmt, args...)
	r.queue(obj, nil, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *recorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.base.AnnotatedEventf(obj, annotations, eventtype, reason, messageFmt, args...)
	r.queue(obj, annotations, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *recorder) queue(obj runtime.Object, annotations map[string]string, eventtype, reason, message string) {
	ev, ok := r.event(obj, annotations, eventtype, reason, message)
	if ok {
		r.d.Enqueue(ev)
	}
}

// event converts to Flux's event: Warning is severity error, Normal info;
// annotations under the object's API group become metadata without the
// group prefix (kustomize.toolkit.fluxcd.io/revision → revision).
func (r *recorder) event(obj runtime.Object, annotations map[string]string, eventtype, reason, message string) (abi.Event, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return abi.Event{}, false
	}
	gvk, err := apiutil.GVKForObject(obj, r.scheme)
	if err != nil {
		return abi.Event{}, false
	}
	sev := "info"
	if eventtype == corev1.EventTypeWarning {
		sev = "error"
	}
	ev := abi.Event{
		InvolvedObject: abi.ObjectReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
			Namespace: m.GetNamespace(), Name: m.GetName(), UID: string(m.GetUID()), ResourceVersion: m.GetResourceVersion()},
		Severity: sev, Timestamp: time.Now().UTC().Format(time.RFC3339), Message: message, Reason: reason,
		ReportingController: r.controller,
	}
	for k, v := range annotations {
		if ev.Metadata == nil {
			ev.Metadata = map[string]string{}
		}
		if g, key, ok := strings.Cut(k, "/"); ok && g == gvk.Group {
			k = key
		}
		ev.Metadata[k] = v
	}
	return ev, true
}
