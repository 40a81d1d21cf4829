// Package nas renders the NAS side of a fleet from a plan.NASPlan: the
// idempotent POSIX shell script `bakc nas-plan` prints (datasets,
// properties and quotas, the owner of repository datasets, the NFS
// exports file, replication users, their keys and `zfs allow` rights),
// the same as NixOS configuration (--format nix), and the comparison of
// a NAS's current state with the plan (--check).
//
// It reads only the plan. Every value is checked (validate) before any
// output is produced, and every value that reaches the script goes
// through escape.ShellQuote; the script's own logic lives in
// templates/nas-plan.sh.tmpl and never sees an unquoted value.
package nas

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/templates"
)

// ExportsFile is where the script writes a node's NFS exports, relative
// to the NAS's root: one file per node, written whole, so that a re-run
// never duplicates a line and removing a node removes its exports.
func ExportsFile(node string) string {
	return "/etc/exports.d/bakc-" + node + ".exports"
}

// replicationHome is the home folder of a replication user; it holds
// only .ssh/authorized_keys, and belongs to root.
func replicationHome(user string) string { return path.Join("/home", user) }

// view is what the templates see: the plan's values in the order they
// are applied, with everything derived (parsable property values, file
// contents, joined lists) computed here in Go.
type view struct {
	Header    string
	NAS       plan.NAS
	NodeNames string
	Nodes     []nodeView
}

type nodeView struct {
	Name        string
	Address     string
	Dataset     string
	Datasets    []datasetView
	ExportsFile string
	// Exports is the whole exports file, "" when the node exports
	// nothing (the file is then removed if present).
	Exports string
}

type datasetView struct {
	Name       string
	ZFSName    string
	Mountpoint string
	Properties []propertyView
	Owner      *plan.Owner
	Receive    *receiveView
}

type propertyView struct {
	Name, Value string
	// Parsable is the value as `zfs get -Hp` prints it once set.
	Parsable string
}

type receiveView struct {
	User string
	// Comment is the user's GECOS field.
	Comment        string
	Home           string
	AuthorizedKeys string
	// Permissions are the `zfs allow` rights, sorted, comma separated.
	Permissions string
	Public      plan.Receive
}

// allowView is one replication user's `zfs allow` rights.
type allowView struct {
	User, Dataset string
	// Permissions are sorted and comma separated.
	Permissions string
}

// Allows lists the `zfs allow` grants of v's nodes, in plan order.
func (v *view) Allows() []allowView {
	var out []allowView
	for _, n := range v.Nodes {
		for _, d := range n.Datasets {
			if r := d.Receive; r != nil {
				out = append(out, allowView{User: r.User, Dataset: d.ZFSName, Permissions: r.Permissions})
			}
		}
	}
	return out
}

// newView validates p and derives everything the templates print.
func newView(p *plan.NASPlan) (*view, error) {
	if err := validate(p); err != nil {
		return nil, fmt.Errorf("NAS plan %s: %w", p.NAS.Name, err)
	}
	v := &view{
		Header: templates.Header(strings.Join(p.Sources, ", ")),
		NAS:    p.NAS,
	}
	var names []string
	for _, n := range p.Nodes {
		names = append(names, n.Name)
		nv := nodeView{
			Name:        n.Name,
			Address:     n.Address,
			Dataset:     n.Dataset,
			ExportsFile: ExportsFile(n.Name),
		}
		var exports []string
		for _, d := range n.Datasets {
			dv := datasetView{Name: d.Name, ZFSName: d.ZFSName, Mountpoint: d.Mountpoint, Owner: d.Owner}
			for _, pr := range d.Properties {
				parsable, err := parsableValue(pr)
				if err != nil {
					return nil, err // validate has checked it already
				}
				dv.Properties = append(dv.Properties, propertyView{Name: pr.Name, Value: pr.Value, Parsable: parsable})
			}
			if e := d.Export; e != nil {
				exports = append(exports, exportLine(d.Mountpoint, e))
			}
			if r := d.Receive; r != nil {
				key, err := authorizedKey(r)
				if err != nil {
					return nil, err
				}
				perms := append([]string(nil), r.Permissions...)
				sort.Strings(perms)
				dv.Receive = &receiveView{
					User:           r.User,
					Comment:        "bakc replication from " + n.Name,
					Home:           replicationHome(r.User),
					AuthorizedKeys: key,
					Permissions:    strings.Join(perms, ","),
					Public:         *r,
				}
			}
			nv.Datasets = append(nv.Datasets, dv)
		}
		if len(exports) > 0 {
			nv.Exports = exportsHeader(v.Header, n.Name) + strings.Join(exports, "")
		}
		v.Nodes = append(v.Nodes, nv)
	}
	v.NodeNames = strings.Join(names, ", ")
	if err := checkUniqueUsers(p); err != nil {
		return nil, err
	}
	return v, nil
}

// checkUniqueUsers refuses two receive datasets with the same user: the
// second key would replace the first one's authorized_keys file.
func checkUniqueUsers(p *plan.NASPlan) error {
	owner := map[string]string{}
	for _, n := range p.Nodes {
		for _, d := range n.Datasets {
			if d.Receive == nil {
				continue
			}
			if prev, ok := owner[d.Receive.User]; ok {
				return fmt.Errorf("NAS plan %s: replication user %s is used by both %s and %s; give each receive dataset its own user", p.NAS.Name, d.Receive.User, prev, d.ZFSName)
			}
			owner[d.Receive.User] = d.ZFSName
		}
	}
	return nil
}

// exportsHeader is the comment at the top of a node's exports file.
func exportsHeader(header, node string) string {
	return "# " + header + "\n# NFS exports of node " + node + ", written whole by bakc nas-plan.\n"
}

// exportLine is one exports(5) line: the dataset's mountpoint to the
// node's address with the plan's options. validate has restricted both
// to characters that exports(5) reads literally.
func exportLine(mountpoint string, e *plan.Export) string {
	return mountpoint + " " + e.Client + "(" + strings.Join(e.Options, ",") + ")\n"
}
