package apply

import (
	"testing"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func entry(ns, name, kind, group, version string, action ssa.Action) ssa.ChangeSetEntry {
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	m := object.ObjMetadata{GroupKind: schema.GroupKind{Group: group, Kind: kind}, Namespace: ns, Name: name}
	return ssa.ChangeSetEntry{ObjMetadata: m, GroupVersion: gv, Subject: ID(kind, ns, name), Action: action}
}

func inv(ids ...string) *kustomizev1.ResourceInventory {
	out := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	for _, id := range ids {
		out.Entries = append(out.Entries, kustomizev1.ResourceRef{ID: id, Version: "v1"})
	}
	return out
}

func TestInventory(t *testing.T) {
	g := NewWithT(t)
	cs := &ssa.ChangeSet{Entries: []ssa.ChangeSetEntry{
		entry("ns", "web", "Deployment", "apps", "v1", ssa.CreatedAction),
		entry("ns", "a", "ConfigMap", "", "v1", ssa.UnchangedAction),
	}}
	g.Expect(Inventory(cs).Entries).To(Equal([]kustomizev1.ResourceRef{
		{ID: "ns_a__ConfigMap", Version: "v1"}, {ID: "ns_web_apps_Deployment", Version: "v1"},
	}), "sorted by id, in Flux's format, with the version alone")
	g.Expect(Changes(cs)).To(Equal("Deployment/ns/web created"), "unchanged objects are not changes")
	g.Expect(Changes(nil)).To(BeEmpty())
}

func TestMergeInventories(t *testing.T) {
	partial := &ssa.ChangeSet{Entries: []ssa.ChangeSetEntry{entry("", "made", "Namespace", "", "v1", ssa.CreatedAction)}}
	tests := []struct {
		name string
		prev *kustomizev1.ResourceInventory
		cs   *ssa.ChangeSet
		want []string
	}{
		{"nothing applied keeps prev", inv("ns_a__ConfigMap"), nil, []string{"ns_a__ConfigMap"}},
		{"empty change set keeps prev", inv("ns_a__ConfigMap"), &ssa.ChangeSet{}, []string{"ns_a__ConfigMap"}},
		{"no prev", nil, partial, []string{"_made__Namespace"}},
		{"union, sorted", inv("ns_a__ConfigMap", "_made__Namespace"), partial, []string{"_made__Namespace", "ns_a__ConfigMap"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range MergeInventories(tt.prev, tt.cs).Entries {
				got = append(got, e.ID)
			}
			NewWithT(t).Expect(got).To(Equal(tt.want))
		})
	}
}

func TestStaleObjects(t *testing.T) {
	tests := []struct {
		name     string
		old, new *kustomizev1.ResourceInventory
		want     []string
		err      string
	}{
		{"none old", nil, inv("ns_a__ConfigMap"), nil, ""},
		{"all stale against nothing", inv("ns_a__ConfigMap", "_x__Namespace"), nil, []string{"ConfigMap/ns/a", "Namespace/x"}, ""},
		{"kept ones are not stale", inv("ns_a__ConfigMap", "ns_b__ConfigMap"), inv("ns_a__ConfigMap"), []string{"ConfigMap/ns/b"}, ""},
		{"a broken entry fails", inv("garbage"), nil, nil, `invalid inventory entry "garbage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			got, err := StaleObjects(tt.old, tt.new)
			if tt.err != "" {
				g.Expect(err).To(MatchError(ContainSubstring(tt.err)))
				return
			}
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(IDs(got)).To(Equal(append([]string{}, tt.want...)))
			for _, u := range got {
				g.Expect(u.GetAPIVersion()).To(Equal("v1"))
			}
		})
	}
}

func TestDeletesObjects(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		prune   bool
		suspend bool
		empty   bool
		want    bool
	}{
		{"mirror prune, pruning", kustomizev1.DeletionPolicyMirrorPrune, true, false, false, true},
		{"mirror prune, not pruning", kustomizev1.DeletionPolicyMirrorPrune, false, false, false, false},
		{"default mirrors prune", "", true, false, false, true},
		{"delete", kustomizev1.DeletionPolicyDelete, false, false, false, true},
		{"wait for termination", kustomizev1.DeletionPolicyWaitForTermination, false, false, false, true},
		{"orphan", kustomizev1.DeletionPolicyOrphan, true, false, false, false},
		{"suspended", kustomizev1.DeletionPolicyDelete, true, true, false, false},
		{"nothing applied", kustomizev1.DeletionPolicyDelete, true, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &kustomizev1.Kustomization{}
			o.Spec.DeletionPolicy, o.Spec.Prune, o.Spec.Suspend = tt.policy, tt.prune, tt.suspend
			if !tt.empty {
				o.Status.Inventory = inv("ns_a__ConfigMap")
			}
			NewWithT(t).Expect(DeletesObjects(o)).To(Equal(tt.want))
		})
	}
}
