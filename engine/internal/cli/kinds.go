package cli

import (
	"fmt"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	weirv1alpha1 "github.com/weir-gitops/weir/api/v1alpha1"
)

// Kind is one kind the commands read and change.
type Kind struct {
	// Kind is the API kind, e.g. "Kustomization".
	Kind string
	// Group is the API group, e.g. "kustomize.toolkit.fluxcd.io".
	Group string
	// Singular is the word for one object in commands ("reconcile ks NAME").
	Singular string
	// Plural is the word for a list in commands ("get kustomizations").
	Plural string
	// Aliases are the other words users type for the kind.
	Aliases []string
	// RevisionVerb says what a successful reconcile did with the revision
	// ("applied revision ..."); empty for kinds without a revision.
	RevisionVerb string

	newObject func() client.Object
	newList   func() client.ObjectList
	status    func(client.Object) Status
}

// Status is what the commands read from an object of any kind.
type Status struct {
	Revision               string
	Suspended              bool
	ObservedGeneration     int64
	LastHandledReconcileAt string
	Conditions             []metav1.Condition
}

// HasRevision reports whether the kind has a revision to show.
func (k Kind) HasRevision() bool { return k.RevisionVerb != "" }

// Names returns every word that names the kind.
func (k Kind) Names() []string {
	return append([]string{k.Singular, k.Plural}, k.Aliases...)
}

// Kinds returns the kinds in the order `get all` prints them: sources first,
// then what consumes them.
func Kinds() []Kind {
	return []Kind{
		{
			Kind: sourcev1.GitRepositoryKind, Group: sourcev1.GroupVersion.Group,
			Singular: "source", Plural: "sources", Aliases: []string{"git", "gitrepository", "gitrepositories", "gitrepo"},
			RevisionVerb: "fetched",
			newObject:    func() client.Object { return &sourcev1.GitRepository{} },
			newList:      func() client.ObjectList { return &sourcev1.GitRepositoryList{} },
			status: func(o client.Object) Status {
				g := o.(*sourcev1.GitRepository)
				s := Status{Suspended: g.Spec.Suspend, ObservedGeneration: g.Status.ObservedGeneration,
					LastHandledReconcileAt: g.Status.LastHandledReconcileAt, Conditions: g.Status.Conditions}
				if g.Status.Artifact != nil {
					s.Revision = g.Status.Artifact.Revision
				}
				return s
			},
		},
		{
			Kind: kustomizev1.KustomizationKind, Group: kustomizev1.GroupVersion.Group,
			Singular: "kustomization", Plural: "kustomizations", Aliases: []string{"ks"},
			RevisionVerb: "applied",
			newObject:    func() client.Object { return &kustomizev1.Kustomization{} },
			newList:      func() client.ObjectList { return &kustomizev1.KustomizationList{} },
			status: func(o client.Object) Status {
				k := o.(*kustomizev1.Kustomization)
				return Status{Revision: k.Status.LastAppliedRevision, Suspended: k.Spec.Suspend,
					ObservedGeneration: k.Status.ObservedGeneration, LastHandledReconcileAt: k.Status.LastHandledReconcileAt,
					Conditions: k.Status.Conditions}
			},
		},
		{
			Kind: notificationv1.ReceiverKind, Group: notificationv1.GroupVersion.Group,
			Singular: "receiver", Plural: "receivers", Aliases: []string{"rcv"},
			newObject: func() client.Object { return &notificationv1.Receiver{} },
			newList:   func() client.ObjectList { return &notificationv1.ReceiverList{} },
			status: func(o client.Object) Status {
				r := o.(*notificationv1.Receiver)
				return Status{Suspended: r.Spec.Suspend, ObservedGeneration: r.Status.ObservedGeneration,
					LastHandledReconcileAt: r.Status.LastHandledReconcileAt, Conditions: r.Status.Conditions}
			},
		},
		{
			Kind: weirv1alpha1.PluginKind, Group: weirv1alpha1.GroupVersion.Group,
			Singular: "plugin", Plural: "plugins", Aliases: []string{"plg"},
			RevisionVerb: "loaded",
			newObject:    func() client.Object { return &weirv1alpha1.Plugin{} },
			newList:      func() client.ObjectList { return &weirv1alpha1.PluginList{} },
			status: func(o client.Object) Status {
				p := o.(*weirv1alpha1.Plugin)
				return Status{Revision: p.Status.Digest, Suspended: p.Spec.Suspend,
					ObservedGeneration: p.Status.ObservedGeneration, LastHandledReconcileAt: p.Status.LastHandledReconcileAt,
					Conditions: p.Status.Conditions}
			},
		},
	}
}

// LookupKind finds a kind by any of its names, case-insensitively, or by
// its API kind.
func LookupKind(name string) (Kind, error) {
	for _, k := range Kinds() {
		if strings.EqualFold(name, k.Kind) {
			return k, nil
		}
		for _, n := range k.Names() {
			if strings.EqualFold(name, n) {
				return k, nil
			}
		}
	}
	return Kind{}, fmt.Errorf("unknown kind %q: want one of sources, kustomizations (ks), receivers, plugins", name)
}

// isOwnKind reports whether group/kind is one of Kinds.
func isOwnKind(group, kind string) bool {
	for _, k := range Kinds() {
		if k.Group == group && k.Kind == kind {
			return true
		}
	}
	return false
}
