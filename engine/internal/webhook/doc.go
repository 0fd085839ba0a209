// Package webhook is the Receiver HTTP endpoint: it serves only /hook/<path>,
// finds the Receiver by its webhook path, verifies the request the way the
// Receiver's type demands, and asks for a trigger. One verifier per type.
//
// It must not import controller-runtime or any controller; the lookup and
// the trigger are passed in.
package webhook
