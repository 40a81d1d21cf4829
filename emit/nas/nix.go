package nas

import (
	"strings"
	"text/template"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/templates"
)

// nixFuncs are the Nix template's only ways to write a value.
var nixFuncs = template.FuncMap{
	"nix":   escape.NixString,
	"attr":  escape.NixAttrName,
	"lines": escape.NixIndentedString,
	// code prints Nix that Go wrote with the functions above: only a
	// nixCode, which replicationNix alone makes, passes.
	"code": func(c nixCode) string { return string(c) },
}

// nixCode is Nix text whose every value went through escape.NixString,
// escape.NixAttrName or escape.CommentText (replicationNix).
type nixCode string

type nixView struct {
	*view
	// Exports is services.nfs.server.exports for every node, "" when no
	// node exports anything.
	Exports  string
	Users    []nixUser
	Services []nixService
	// ReplicationLet and Replication are replicationNix's, "" when no
	// node replicates.
	ReplicationLet, Replication nixCode
}

type nixUser struct {
	Node, Dataset, User, Comment string
	// Key is the whole authorized_keys line, options included.
	Key string
}

type nixService struct {
	Name, Description string
	// Script is the dataset part of the shell script, for this node.
	Script string
}

// ServiceName is the NixOS boot service that keeps a node's datasets on
// the NAS as configured. One per node, so that the files of several
// `bakc nas-plan NODE --format nix` can be imported side by side.
func ServiceName(node string) string { return "bakc-nas-" + node }

// Nix renders p as a NixOS module for a NAS that runs NixOS: NFS exports
// (services.nfs.server), the replication users with their keys, and per
// node a oneshot service that runs the script's dataset part at boot.
// Like Script, it returns an error, and nothing else, for an unsafe plan.
func Nix(p *plan.NASPlan) ([]byte, error) {
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	nv := nixView{view: v}
	var exports strings.Builder
	for _, n := range v.Nodes {
		if n.Exports != "" {
			exports.WriteString("# node " + n.Name + "\n")
			for _, line := range strings.SplitAfter(n.Exports, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					exports.WriteString(line)
				}
			}
		}
		for _, d := range n.Datasets {
			if r := d.Receive; r != nil {
				nv.Users = append(nv.Users, nixUser{Node: n.Name, Dataset: d.ZFSName, User: r.User, Comment: r.Comment, Key: strings.TrimSuffix(r.AuthorizedKeys, "\n")})
			}
		}
		one := *v
		one.Nodes = []nodeView{n}
		one.NodeNames = n.Name
		script, err := bootScript(&one)
		if err != nil {
			return nil, err
		}
		nv.Services = append(nv.Services, nixService{
			Name:        ServiceName(n.Name),
			Description: "bakc: ZFS datasets of " + n.Name + " on " + v.NAS.Name,
			Script:      script,
		})
	}
	nv.Exports = exports.String()
	if nv.ReplicationLet, nv.Replication, err = replicationNix(p); err != nil {
		return nil, err
	}
	out, err := templates.Execute("nas-plan.nix.tmpl", nixFuncs, nv)
	if err != nil {
		return nil, err
	}
	return endLine(out), nil
}
