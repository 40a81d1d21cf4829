package compiler

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/crypto/ssh"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// nodeIdentity is what both a node's plan and its NAS's plan need to
// know about the node: its name, address, NAS, backup user and
// replication key. It is checked once, so that a fleet validation
// reports each problem once.
type nodeIdentity struct {
	node    *schema.Node
	address string
	// nas is nil when the node has none, or names one that does not
	// exist (reported).
	nas  *nasDecl
	user plan.User
	// replication is the node's replication block, checked; nil without
	// one.
	replication *nodeReplication
	diags       hcl.Diagnostics
}

// resolveIdentity checks a node's identity once.
func (f *Fleet) resolveIdentity(name string) *nodeIdentity {
	if id, ok := f.identities[name]; ok {
		return id
	}
	node := f.nodes[name]
	id := &nodeIdentity{node: node}
	f.identities[name] = id
	def := f.resolveDefaults()
	diags := checkName(node.Name, node.NameRange, plan.NameNode)
	if node.Address != nil {
		if d := checkAddress(node.Address, "node address"); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			id.address = node.Address.Value
		}
	}
	if node.NAS != nil {
		id.nas = f.resolveNAS(node.NAS.Value)
		if id.nas == nil {
			diags = append(diags, errorAt(node.NAS.Range, "Unknown NAS",
				"The node names the NAS %q, but bakc.hcl declares no NAS of that name; it declares %s. Declare it in bakc.hcl, or fix the name.%s",
				node.NAS.Value, quotedList(f.NASNames()), didYouMean(node.NAS.Value, f.NASNames())))
		} else if ds := id.nas.needsAddress(); ds != nil && node.Address == nil {
			diags = append(diags, errorAt(node.NAS.Range, "Export without node address",
				"The NAS %q creates the dataset %q for every node of it and exports it over NFS to the node, but this node has no address. Add address = \"<host name or IP>\" to the node.",
				id.nas.nas.Name, ds.name))
		}
	}
	var d hcl.Diagnostics
	id.user, d = applyUser(def.user, node.User)
	diags = append(diags, d...)
	id.replication, d = f.checkNodeReplication(id)
	diags = append(diags, d...)
	id.diags = diags
	return id
}

// checkPublicKey reports a value that is not an OpenSSH public key line
// whose blob names the same key type: it is written into the NAS's
// authorized_keys, where a wrong line locks replication out and an
// option smuggled into it could widen what the key may do.
func checkPublicKey(t *schema.Text) hcl.Diagnostics {
	// The plan's own check keeps the line to type, key and a comment of
	// printable characters without a double quote (no options, which
	// bakc adds itself); it is the one the runtime and the emitters
	// apply, so what passes here passes there. ssh.ParseAuthorizedKey
	// then decodes the key the way sshd will, so a key of the wrong
	// length or a mangled blob is refused here rather than silently
	// ignored by sshd.
	if plan.CheckPublicKeyLine(t.Value) == nil {
		key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(t.Value))
		if err == nil && len(options) == 0 && len(rest) == 0 && key.Type() == strings.Fields(t.Value)[0] {
			return nil
		}
	}
	return hcl.Diagnostics{errorAt(t.Range, "Invalid replication key",
		"The replication key is not one OpenSSH public key line (\"ssh-ed25519 AAAA… comment\", the comment printable characters without a double quote) whose key data matches its type. Paste the node's public key, such as the content of /etc/ssh/ssh_host_ed25519_key.pub, without options.")}
}
