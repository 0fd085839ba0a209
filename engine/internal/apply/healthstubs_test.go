package apply

import (
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestHealthStub checks that a stub keeps exactly kstatus's verdict on the
// whole object, and nothing of the object but its identity.
func TestHealthStub(t *testing.T) {
	for _, tc := range []struct {
		name, manifest string
		want           status.Status
	}{
		{name: "deployment rolling out", want: status.InProgressStatus, manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps, generation: 2, resourceVersion: "7"}
spec:
  replicas: 3
  template: {spec: {containers: [{name: web, image: nginx}]}}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
`},
		{name: "deployment ready", want: status.CurrentStatus, manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps, generation: 2, resourceVersion: "8"}
spec:
  replicas: 1
  template: {spec: {containers: [{name: web, image: nginx}]}}
status:
  observedGeneration: 2
  replicas: 1
  updatedReplicas: 1
  readyReplicas: 1
  availableReplicas: 1
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]
`},
		{name: "spec not yet observed", want: status.InProgressStatus, manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps, generation: 3, resourceVersion: "9"}
spec: {replicas: 1}
status: {observedGeneration: 2}
`},
		{name: "custom resource stalled", want: status.FailedStatus, manifest: `
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: apps, generation: 1, resourceVersion: "3"}
status:
  observedGeneration: 1
  conditions: [{type: Stalled, status: "True", reason: Broken, message: "the widget is broken"}]
`},
		{name: "being deleted", want: status.TerminatingStatus, manifest: `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps, resourceVersion: "4", deletionTimestamp: "2026-01-01T00:00:00Z"}
spec: {ports: [{port: 80}]}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			j, err := yaml.YAMLToJSON([]byte(tc.manifest))
			g.Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{}
			g.Expect(u.UnmarshalJSON(j)).To(Succeed())
			want, err := status.Compute(u.DeepCopy())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(want.Status).To(Equal(tc.want), "the case is what it says")

			out, err := healthStub(u)
			g.Expect(err).NotTo(HaveOccurred())
			s := out.(*unstructured.Unstructured)
			g.Expect(s.GetAnnotations()).To(Equal(map[string]string{
				stubStatusAnnotation: string(want.Status), stubMessageAnnotation: want.Message}))
			g.Expect(s.GroupVersionKind()).To(Equal(u.GroupVersionKind()))
			g.Expect([]string{s.GetNamespace(), s.GetName(), s.GetResourceVersion()}).
				To(Equal([]string{u.GetNamespace(), u.GetName(), u.GetResourceVersion()}))
			g.Expect(s.Object).To(HaveLen(3), "apiVersion, kind and metadata only")
			g.Expect(s.Object).NotTo(HaveKey("spec"))

			again, err := healthStub(s)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(again).To(BeIdenticalTo(s), "a stub transformed again stays as it is")
		})
	}
}

// TestHealthStubLeavesOtherTypes: only unstructured objects are stubbed.
func TestHealthStubLeavesOtherTypes(t *testing.T) {
	g := NewWithT(t)
	in := "not an object"
	out, err := healthStub(in)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal(in))
}
