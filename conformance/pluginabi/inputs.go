package pluginabi

import (
	"fmt"
	"strings"

	"github.com/weir-gitops/weir/plugins/sdk/abi"
)

// sampleItems is a small, realistic build: a namespace, a ConfigMap, a
// Deployment with a pinned image and a Service.
func sampleItems() []map[string]any {
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": "apps", "labels": map[string]any{"app": "web"}}
	}
	return []map[string]any{
		{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "apps"}},
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("web-config"),
			"data": map[string]any{"LOG_LEVEL": "info"}},
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("web"),
			"spec": map[string]any{"replicas": float64(2),
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "web", "image": "registry.example.com/web:1.4.2",
						"ports": []any{map[string]any{"containerPort": float64(8080)}}}}}}}},
		{"apiVersion": "v1", "kind": "Service", "metadata": meta("web"),
			"spec": map[string]any{"selector": map[string]any{"app": "web"},
				"ports": []any{map[string]any{"port": float64(80), "targetPort": float64(8080)}}}},
	}
}

// largeItems is n ConfigMaps with a 64-byte payload each.
func largeItems(n int) []map[string]any { return ConfigMaps(n, 64) }

// ConfigMaps returns n ConfigMaps, apps/cm-00000 onwards, each with a
// data.payload of payload bytes: the kit's large transform input, and a
// bulk input for anyone measuring a transform.
func ConfigMaps(n, payload int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%05d", i), "namespace": "apps",
				"labels": map[string]any{"app": "bulk"}},
			"data": map[string]any{"index": fmt.Sprint(i), "payload": strings.Repeat("x", payload)}}
	}
	return out
}

// healthObjects are objects of kind k in the states a health plugin must
// judge: no status, stale status, ready, progressing, failed.
func healthObjects(k Kind) map[string]map[string]any {
	obj := func(name string, gen float64, status map[string]any) map[string]any {
		o := map[string]any{"apiVersion": k.APIVersion, "kind": k.Kind,
			"metadata": map[string]any{"name": name, "namespace": "apps", "generation": gen, "uid": "uid-" + name},
			"spec":     map[string]any{"size": "small"}}
		if status != nil {
			o["status"] = status
		}
		return o
	}
	cond := func(status, reason, msg string) []any {
		return []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": msg,
			"lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": float64(2)}}
	}
	return map[string]map[string]any{
		"no-status": obj("no-status", 1, nil),
		"stale": obj("stale", 3, map[string]any{"observedGeneration": float64(2), "phase": "Ready",
			"conditions": cond("True", "Succeeded", "ready")}),
		"ready": obj("ready", 2, map[string]any{"observedGeneration": float64(2), "phase": "Ready",
			"conditions": cond("True", "Succeeded", "ready")}),
		"progressing": obj("progressing", 2, map[string]any{"observedGeneration": float64(2), "phase": "Provisioning",
			"conditions": cond("False", "Progressing", "provisioning")}),
		"failed": obj("failed", 2, map[string]any{"observedGeneration": float64(2), "phase": "Failed",
			"message": "disk full", "conditions": cond("False", "Failed", "disk full")}),
	}
}

// minimalObject has only what identifies an object.
func minimalObject(k Kind) map[string]any {
	return map[string]any{"apiVersion": k.APIVersion, "kind": k.Kind,
		"metadata": map[string]any{"name": "minimal", "namespace": "apps"}}
}

// largeObject has n conditions and n status fields.
func largeObject(k Kind, n int) map[string]any {
	o := healthObjects(k)["ready"]
	st := o["status"].(map[string]any)
	conds := st["conditions"].([]any)
	fields := map[string]any{}
	for i := range n {
		conds = append(conds, map[string]any{"type": fmt.Sprintf("Extra%05d", i), "status": "True",
			"reason": "Fine", "message": "fine", "lastTransitionTime": "2026-01-01T00:00:00Z"})
		fields[fmt.Sprintf("field%05d", i)] = strings.Repeat("y", 32)
	}
	st["conditions"], st["extra"] = conds, fields
	return o
}

// sampleEvent is a Kustomization's success event.
func sampleEvent() abi.Event {
	rev := "main@sha1:4f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e"
	return abi.Event{
		InvolvedObject: abi.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization",
			Namespace: "apps", Name: "web", UID: "6a4f2a4e-8c9b-4d47-9d55-1b0e2e3c4d5f", ResourceVersion: "12345"},
		Severity: "info", Timestamp: "2026-01-01T00:00:00Z",
		Message: "Applied revision " + rev, Reason: "ReconciliationSucceeded",
		Metadata:            map[string]string{"revision": rev},
		ReportingController: "kustomize-controller", ReportingInstance: "weir-0",
	}
}

// minimalEvent has only the fields every event has.
func minimalEvent() abi.Event {
	return abi.Event{InvolvedObject: abi.ObjectReference{Kind: "GitRepository", Name: "x"},
		Severity: "info", Reason: "Progressing", ReportingController: "source-controller"}
}

// largeEvent has n metadata entries and a 64 KiB message.
func largeEvent(n int) abi.Event {
	ev := sampleEvent()
	ev.Severity, ev.Reason = "error", "HealthCheckFailed"
	ev.Message = strings.Repeat("health check failed for Deployment/apps/web; ", 64<<10/45)
	ev.Metadata = map[string]string{}
	for i := range n {
		ev.Metadata[fmt.Sprintf("key%05d", i)] = fmt.Sprintf("value %d", i)
	}
	return ev
}
