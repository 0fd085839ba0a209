package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// PluginKind is the kind name of Plugin.
const PluginKind = "Plugin"

// Capability names, as a Plugin declares them and as the module's metadata
// must also declare them.
const (
	CapabilityTransform = "transform"
	CapabilityHealth    = "health"
	CapabilityNotify    = "notify"
)

// Condition types and reasons specific to Plugin. Ready and Reconciling come
// from Flux's meta package.
const (
	// SourceVerifiedCondition reports whether the module's signature was
	// verified against the keys in spec.verify.
	SourceVerifiedCondition = "SourceVerified"

	// AuthenticationFailedReason: the registry credentials Secret is
	// missing or malformed, or the registry refused them.
	AuthenticationFailedReason = "AuthenticationFailed"
	// PullFailedReason: resolving or pulling the artifact failed; retried.
	PullFailedReason = "OCIArtifactPullFailed"
	// VerificationFailedReason: no signature satisfies spec.verify.
	VerificationFailedReason = "VerificationFailed"
	// VerificationKeysMissingReason: the spec.verify Secret is missing or
	// holds no *.pub key.
	VerificationKeysMissingReason = "VerificationKeysMissing"
	// InvalidArtifactReason: the artifact is not a Wasm plugin or exceeds
	// the size limits.
	InvalidArtifactReason = "InvalidArtifact"
	// ABIMismatchReason: the module's metadata declares another ABI version
	// or lacks a capability the spec uses.
	ABIMismatchReason = "ABIMismatch"
	// CompileFailedReason: the verified module did not compile.
	CompileFailedReason = "CompileFailed"
	// ServingStaleReason: the latest digest could not be used, an earlier
	// verified digest keeps serving.
	ServingStaleReason = "ServingPreviousDigest"
)

// PluginSpec names a Wasm module shipped as an OCI artifact, how to verify
// it, its limits and configuration, and the extension points it serves.
// +kubebuilder:validation:XValidation:rule="has(self.transform) || has(self.health) || has(self.notify)",message="at least one of transform, health or notify must be set"
type PluginSpec struct {
	// URL of the artifact: oci://host/repository:tag or
	// oci://host/repository@sha256:<hex>. A tag is resolved to a digest on
	// every interval; the module always runs by digest.
	// +kubebuilder:validation:Pattern="^oci://.+$"
	// +required
	URL string `json:"url"`

	// Interval at which the tag is resolved again.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +kubebuilder:default="10m"
	// +optional
	Interval metav1.Duration `json:"interval,omitempty"`

	// SecretRef names a kubernetes.io/dockerconfigjson Secret with
	// credentials for the registry.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`

	// Insecure allows plain HTTP to the registry.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// Verify says how the module's signature is checked before it is
	// compiled. Nothing that fails verification is ever compiled or run.
	// +required
	Verify PluginVerification `json:"verify"`

	// Limits bound every call into the module.
	// +optional
	Limits *PluginLimits `json:"limits,omitempty"`

	// Config is free-form JSON passed to every call, checked against the
	// schema in the module's metadata when it declares one.
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Config *apiextensionsv1.JSON `json:"config,omitempty"`

	// Transform makes the module a manifest transform for matching
	// Kustomizations.
	// +optional
	Transform *TransformPoint `json:"transform,omitempty"`

	// Health makes the module decide the health of the listed kinds.
	// +optional
	Health *HealthPoint `json:"health,omitempty"`

	// Notify makes the module a notification sink for matching events.
	// +optional
	Notify *NotifyPoint `json:"notify,omitempty"`

	// Suspend stops resolving and loading new digests; a loaded module
	// keeps serving.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// PluginVerification configures cosign verification of the artifact.
type PluginVerification struct {
	// Provider of the signature. Only cosign is supported.
	// +kubebuilder:validation:Enum=cosign
	// +kubebuilder:default=cosign
	// +optional
	Provider string `json:"provider,omitempty"`

	// SecretRef names a Secret whose values ending in .pub are cosign public
	// keys.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`

	// MatchPolicy is Any (one key must verify) or All (every key must).
	// +kubebuilder:validation:Enum=Any;All
	// +kubebuilder:default=Any
	// +optional
	MatchPolicy string `json:"matchPolicy,omitempty"`
}

// PluginLimits bound each call into a module.
type PluginLimits struct {
	// Timeout of one call; a guest still running then is stopped and its
	// instance discarded.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// Memory is the most linear memory one instance may grow to.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`

	// MaxOutputBytes caps what one call may return.
	// +kubebuilder:validation:Minimum=1024
	// +optional
	MaxOutputBytes *int64 `json:"maxOutputBytes,omitempty"`

	// Instances is the size of the instance pool.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Instances *int32 `json:"instances,omitempty"`
}

// TransformPoint selects the Kustomizations a transform runs for.
type TransformPoint struct {
	// Selector over Kustomizations in the Plugin's namespace. An empty
	// selector matches all of them.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Order among the transforms of one Kustomization, lowest first; ties
	// are broken by name.
	// +optional
	Order int32 `json:"order,omitempty"`

	// AllowDeletion lets the transform remove more than
	// MaxDeletionPercent of the objects, or all of them.
	// +optional
	AllowDeletion bool `json:"allowDeletion,omitempty"`

	// MaxDeletionPercent is the share of objects the transform may remove
	// when AllowDeletion is false.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	MaxDeletionPercent int32 `json:"maxDeletionPercent,omitempty"`
}

// HealthPoint lists the kinds whose health the module decides.
type HealthPoint struct {
	// Kinds decided by this module in place of kstatus.
	// +kubebuilder:validation:MinItems=1
	// +required
	Kinds []KindReference `json:"kinds"`
}

// KindReference names a kind by apiVersion and kind.
type KindReference struct {
	// +required
	APIVersion string `json:"apiVersion"`
	// +required
	Kind string `json:"kind"`
}

// NotifyPoint selects the events a notifier receives and where it may send
// them.
type NotifyPoint struct {
	// EventSources restricts events to these objects; empty means all in the
	// Plugin's namespace. Name may be "*".
	// +optional
	EventSources []EventSource `json:"eventSources,omitempty"`

	// EventSeverity is the lowest severity delivered.
	// +kubebuilder:validation:Enum=info;error
	// +kubebuilder:default=info
	// +optional
	EventSeverity string `json:"eventSeverity,omitempty"`

	// AllowedHosts the module may call through the host HTTP function, as
	// scheme://host[:port]. Private and loopback addresses are refused unless
	// listed here explicitly.
	// +kubebuilder:validation:MinItems=1
	// +required
	AllowedHosts []string `json:"allowedHosts"`

	// SecretRef names a Secret whose values the host injects into requests
	// (the module refers to them by key and never sees them).
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`
}

// EventSource names the objects whose events a notifier receives.
type EventSource struct {
	// +kubebuilder:validation:Enum=GitRepository;Kustomization;Receiver;Plugin
	// +required
	Kind string `json:"kind"`
	// +kubebuilder:default="*"
	// +optional
	Name string `json:"name,omitempty"`
}

// PluginStatus is the observed state of a Plugin.
type PluginStatus struct {
	meta.ReconcileRequestStatus `json:",inline"`

	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Digest of the manifest of the module that is loaded and serving.
	// +optional
	Digest string `json:"digest,omitempty"`

	// ABIVersion from the module's metadata.
	// +optional
	ABIVersion string `json:"abiVersion,omitempty"`

	// Capabilities from the module's metadata.
	// +optional
	Capabilities []string `json:"capabilities,omitempty"`
}

// GetConditions returns the status conditions.
func (p *Plugin) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions sets the status conditions.
func (p *Plugin) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=plg
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.digest`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Plugin is a cosign-verified Wasm module that extends the engine at one or
// more extension points.
type Plugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PluginSpec   `json:"spec,omitempty"`
	Status PluginStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PluginList is a list of Plugins.
type PluginList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Plugin `json:"items"`
}

var _ runtime.Object = &Plugin{}
