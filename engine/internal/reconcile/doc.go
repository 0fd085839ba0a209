// Package reconcile is the skeleton every controller of the engine shares:
// an ordered list of steps, typed step errors (retry or stall), the Ready
// condition summarized in one place, requestedAt handling, events and one
// status patch at the end. Controllers keep only their steps.
//
// It must not import any controller or stage package.
package reconcile
