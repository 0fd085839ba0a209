package reconcile

import (
	"context"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Requests lists objects into list (usually through a cache index, with
// client.MatchingFields) and returns a reconcile request for each: the body
// of every watch that maps one object to the objects that refer to it. A
// failed list is logged and maps to nothing; the referring objects' own
// intervals retry.
func Requests(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []ctrl.Request {
	if err := c.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing objects for a watch")
		return nil
	}
	var reqs []ctrl.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		if co, ok := o.(client.Object); ok {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(co)})
		}
		return nil
	})
	return reqs
}
