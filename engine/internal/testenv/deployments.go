package testenv

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadyDeployments registers a stand-in for the Deployment controller with
// mgr: the control plane has no kubelet, so a Deployment becomes available
// delay after each new generation, which makes health waits (wait: true,
// healthChecks) take a realistic time against any implementation.
func ReadyDeployments(mgr ctrl.Manager, delay time.Duration) error {
	return ctrl.NewControllerManagedBy(mgr).For(&appsv1.Deployment{}).Named("deployment-standin").
		Complete(&deploymentStandIn{c: mgr.GetClient(), delay: delay, seen: map[string]time.Time{}})
}

type deploymentStandIn struct {
	c     client.Client
	delay time.Duration
	mu    sync.Mutex
	seen  map[string]time.Time
}

func (s *deploymentStandIn) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &appsv1.Deployment{}
	if err := s.c.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas > 0 {
		return ctrl.Result{}, nil
	}
	key := fmt.Sprintf("%s/%d", req.NamespacedName, d.Generation)
	s.mu.Lock()
	first, ok := s.seen[key]
	if !ok {
		first = time.Now()
		s.seen[key] = first
	}
	s.mu.Unlock()
	if wait := s.delay - time.Since(first); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	return ctrl.Result{}, client.IgnoreNotFound(s.c.Status().Update(ctx, d))
}
