// Package gaconformance runs the GA API conformance suite (conformance/ga)
// against the engine on a test control plane of its own. It holds only
// that test: the suite leaves objects in every namespace it uses, so it
// gets an API server no other test shares.
package gaconformance
