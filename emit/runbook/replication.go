package runbook

import (
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// copyView is one replicated dataset and the commands that bring its
// copy on the NAS back to the node, each already a shell line.
type copyView struct {
	plan.ReplicaDataset
	// Mountpoint is where the node mounts the dataset ("" when the plan
	// does not say).
	Mountpoint string
	Restored   string
	List       string
	Send       string
	Swap       []string
}

// copyViews are the node's replicated datasets with their restore
// commands: list the copy's snapshots on the NAS; send one to the node
// as a new dataset beside the live one (over root's ssh, not the NAS's
// replication key, which can only read); swap it in on the node.
func copyViews(p *plan.Plan) []copyView {
	r := p.Replication
	if r == nil {
		return nil
	}
	host := p.Node.Address
	if host == "" {
		host = p.Node.Name
	}
	var out []copyView
	for _, c := range r.Copies {
		v := copyView{ReplicaDataset: c, Restored: c.Source + "-restored"}
		for _, d := range p.Node.Datasets {
			if d.Name == c.Source {
				v.Mountpoint = d.Mountpoint
			}
		}
		v.List = shjoin("zfs", "list", "-H", "-t", "snapshot", "-o", "name,creation", "-s", "creation", "-r", c.Target)
		v.Send = shjoin("zfs", "send", c.Target+"@$SNAP") + " | " +
			shjoin("ssh", "root@"+host, shjoin("zfs", "receive", "-u", v.Restored))
		v.Send = strings.Replace(v.Send, "@$SNAP'", "@'\"$SNAP\"", 1)
		// The live dataset is unmounted and kept, never mounted again
		// by itself; the copy takes its name and mountpoint.
		v.Swap = []string{
			shjoin("zfs", "unmount", c.Source),
			shjoin("zfs", "rename", c.Source, c.Source+"-old"),
			shjoin("zfs", "set", "canmount=off", c.Source+"-old"),
			shjoin("zfs", "rename", v.Restored, c.Source),
		}
		if v.Mountpoint != "" {
			v.Swap = append(v.Swap, shjoin("zfs", "set", "mountpoint="+v.Mountpoint, c.Source))
		}
		v.Swap = append(v.Swap, shjoin("zfs", "mount", c.Source))
		out = append(out, v)
	}
	return out
}

func shjoin(argv ...string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = escape.ShellQuote(a)
	}
	return strings.Join(words, " ")
}
