package abi

import "encoding/json"

// Metadata is the JSON document in the CustomSection.
type Metadata struct {
	ABIVersion   string          `json:"abiVersion"`
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Capabilities []Capability    `json:"capabilities"`
	ConfigSchema json.RawMessage `json:"configSchema,omitempty"`
}

// KRM ResourceList identity (KRM Functions Specification).
const (
	ResourceListAPIVersion = "config.kubernetes.io/v1"
	ResourceListKind       = "ResourceList"
)

// ItemOffsetsField names an optional member of the transform input that
// comes before "items": a flat array of pairs, the start and the end (one
// past the last byte) of each item, counted from the items array's opening
// bracket. A guest that trusts it can split the items without scanning
// them; one that does not know it ignores it, as any unknown field.
const ItemOffsetsField = "itemOffsets"

// ResourceList is the transform input and output.
type ResourceList struct {
	APIVersion     string           `json:"apiVersion"`
	Kind           string           `json:"kind"`
	Items          []map[string]any `json:"items"`
	FunctionConfig map[string]any   `json:"functionConfig,omitempty"`
	Results        []Result         `json:"results,omitempty"`
}

// Severity of a Result.
type Severity string

// Severities. An error result fails the reconcile.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Result is one finding of a transform.
type Result struct {
	Message     string       `json:"message"`
	Severity    Severity     `json:"severity,omitempty"`
	ResourceRef *ResourceRef `json:"resourceRef,omitempty"`
	Field       *Field       `json:"field,omitempty"`
}

// ResourceRef identifies the object a Result is about.
type ResourceRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
}

// Field identifies the field a Result is about.
type Field struct {
	Path          string `json:"path"`
	CurrentValue  any    `json:"currentValue,omitempty"`
	ProposedValue any    `json:"proposedValue,omitempty"`
}

// HealthRequest is the health input.
type HealthRequest struct {
	Object map[string]any `json:"object"`
	Config map[string]any `json:"config,omitempty"`
}

// HealthStatus is a kstatus-like verdict.
type HealthStatus string

// Health verdicts.
const (
	StatusCurrent    HealthStatus = "Current"
	StatusInProgress HealthStatus = "InProgress"
	StatusFailed     HealthStatus = "Failed"
)

// HealthResult is the health output.
type HealthResult struct {
	Status  HealthStatus `json:"status"`
	Message string       `json:"message,omitempty"`
}

// NotifyRequest is the notify input.
type NotifyRequest struct {
	Event  Event          `json:"event"`
	Config map[string]any `json:"config,omitempty"`
}

// Event is a Flux event (fluxcd/pkg/apis/event v1beta1 wire format).
type Event struct {
	InvolvedObject      ObjectReference   `json:"involvedObject"`
	Severity            string            `json:"severity"`
	Timestamp           string            `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance,omitempty"`
}

// ObjectReference is the object an Event is about.
type ObjectReference struct {
	APIVersion      string `json:"apiVersion,omitempty"`
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// NotifyResult is the notify output.
type NotifyResult struct {
	Delivered bool   `json:"delivered"`
	Message   string `json:"message,omitempty"`
}

// HTTPRequest is the http_call input. Body is sent as is (UTF-8 text).
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// HTTPResponse is the http_call output.
type HTTPResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}
