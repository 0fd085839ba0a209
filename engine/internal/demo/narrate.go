package demo

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weir-gitops/weir/api/v1alpha1"
)

// narrator prints a line whenever an object's state changes: Ready with
// what it did, or not Ready with why.
type narrator struct {
	c            client.Client
	out          io.Writer
	receiverAddr string
	token        string
	last         map[string]string
}

func newNarrator(c client.Client, out io.Writer, receiverAddr, token string) *narrator {
	return &narrator{c: c, out: out, receiverAddr: receiverAddr, token: token, last: map[string]string{}}
}

func (n *narrator) say(key, line string) {
	if n.last[key] == line {
		return
	}
	n.last[key] = line
	fmt.Fprintln(n.out, line)
}

func state(o conditions.Getter, ready string) string {
	switch {
	case conditions.IsReady(o):
		return "✔ " + ready
	case conditions.IsFalse(o, meta.ReadyCondition):
		return "✗ " + conditions.GetReason(o, meta.ReadyCondition) + ": " + conditions.GetMessage(o, meta.ReadyCondition)
	case conditions.Has(o, meta.ReadyCondition):
		return "… " + conditions.GetMessage(o, meta.ReadyCondition)
	}
	return ""
}

func (n *narrator) report(ctx context.Context) {
	in := client.InNamespace(Namespace)
	var repos sourcev1.GitRepositoryList
	if n.c.List(ctx, &repos, in) == nil {
		for i := range repos.Items {
			r := &repos.Items[i]
			rev := ""
			if a := r.GetArtifact(); a != nil {
				rev = a.Revision
			}
			if s := state(r, "revision "+rev); s != "" {
				n.say("git/"+r.Name, fmt.Sprintf("%-34s %s", "GitRepository "+Namespace+"/"+r.Name, s))
			}
		}
	}
	var plugins v1alpha1.PluginList
	if n.c.List(ctx, &plugins, in) == nil {
		for i := range plugins.Items {
			p := &plugins.Items[i]
			if s := state(p, fmt.Sprintf("serving %s, signature verified (%s)", p.Status.Digest, strings.Join(p.Status.Capabilities, ","))); s != "" {
				n.say("plugin/"+p.Name, fmt.Sprintf("%-34s %s", "Plugin "+Namespace+"/"+p.Name, s))
			}
		}
	}
	var kss kustomizev1.KustomizationList
	if n.c.List(ctx, &kss, in) == nil {
		for i := range kss.Items {
			k := &kss.Items[i]
			ids, count := applied(k)
			noun := "objects"
			if count == 1 {
				noun = "object"
			}
			msg := fmt.Sprintf("applied %s: %d %s", k.Status.LastAppliedRevision, count, noun)
			if t := conditions.Get(k, "Transformed"); t != nil && t.Status == "True" {
				msg += ", transformed by " + t.Message
			}
			if len(ids) > 0 {
				msg += "\n    " + strings.Join(ids, ", ")
			}
			if s := state(k, msg); s != "" {
				n.say("ks/"+k.Name, fmt.Sprintf("%-34s %s", "Kustomization "+Namespace+"/"+k.Name, s))
			}
		}
	}
	var rcvs notificationv1.ReceiverList
	if n.c.List(ctx, &rcvs, in) == nil {
		for i := range rcvs.Items {
			r := &rcvs.Items[i]
			hook := fmt.Sprintf("webhook ready; to reconcile now:\n    curl -X POST http://%s%s", n.receiverAddr, r.Status.WebhookPath)
			if s := state(r, hook); s != "" {
				n.say("rcv/"+r.Name, fmt.Sprintf("%-34s %s", "Receiver "+Namespace+"/"+r.Name, s))
			}
		}
	}
}

// maxListed caps the objects named under a Kustomization's line.
const maxListed = 6

// applied names the objects of k's inventory as Kind/namespace/name, the
// first maxListed of them and a count of the rest, and how many there are.
func applied(k *kustomizev1.Kustomization) ([]string, int) {
	if k.Status.Inventory == nil {
		return nil, 0
	}
	var ids []string
	for i, e := range k.Status.Inventory.Entries {
		if i == maxListed {
			ids = append(ids, fmt.Sprintf("and %d more", len(k.Status.Inventory.Entries)-maxListed))
			break
		}
		m, err := object.ParseObjMetadata(e.ID)
		if err != nil {
			ids = append(ids, e.ID)
			continue
		}
		ids = append(ids, ssautils.FmtObjMetadata(m))
	}
	return ids, len(k.Status.Inventory.Entries)
}
