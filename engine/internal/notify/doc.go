// Package notify delivers the stages' events to notify plugins. It wraps
// each controller's event recorder: every event still becomes a Kubernetes
// Event, and a copy in Flux's event format goes onto a bounded queue that
// never blocks a reconcile. A router matches each event against the notify
// Plugins of its namespace (eventSources, eventSeverity) and hands it to one
// sink per Plugin; a sink rate-limits, drops duplicates within a window, and
// retries failed deliveries with backoff. When a queue is full the event is
// dropped and counted, never waited for.
//
// It reads Plugin objects through a cache reader and calls plugins through
// the plugin catalog; it must not import the controllers.
package notify
