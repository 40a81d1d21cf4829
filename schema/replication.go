package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Replication is a node's `replication` block inside its zfs block: the
// NAS pulls the node's datasets with syncoid, after sanoid snapshotted
// them on the node.
type Replication struct {
	DeclRange hcl.Range
	// Datasets are the datasets the NAS pulls; nil means every dataset of
	// the zfs block.
	Datasets *TextList
	// HostKey is the node's sshd host key, which the NAS accepts.
	HostKey *Text
	// Port is the node's sshd port.
	Port *Number
	// Schedule is when the NAS pulls.
	Schedule *Text
	// Into names the NAS's receive dataset block.
	Into *Text
	// Snapshots is the policy on the node; Keep the one on the NAS.
	Snapshots *SnapshotPolicy
	Keep      *SnapshotPolicy
}

// SnapshotPolicy is a sanoid policy: how many snapshots of each kind.
type SnapshotPolicy struct {
	DeclRange                                          hcl.Range
	Frequently, Hourly, Daily, Weekly, Monthly, Yearly *Number
}

// NASReplication is a NAS's `replication` block: the key it pulls with.
type NASReplication struct {
	DeclRange hcl.Range
	// IdentityFile is the NAS's private key, a secret file on the NAS.
	IdentityFile *Text
	// PublicKey is its public half, which the nodes' sshd accept.
	PublicKey *Text
	// From are the addresses the NAS connects to nodes from.
	From *TextList
}

var replicationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "datasets"},
		{Name: "host_key", Required: true},
		{Name: "port"},
		{Name: "schedule"},
		{Name: "into"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "snapshots"},
		{Type: "keep"},
	},
}

var snapshotPolicySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "frequently"}, {Name: "hourly"}, {Name: "daily"},
		{Name: "weekly"}, {Name: "monthly"}, {Name: "yearly"},
	},
}

var nasReplicationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "identity_file", Required: true},
		{Name: "public_key", Required: true},
		{Name: "from"},
	},
}

func decodeReplicationBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Replication, hcl.Diagnostics) {
	r := &Replication{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(replicationSchema)
	a := content.Attributes
	var d hcl.Diagnostics
	r.Datasets, d = decodeTextList(a["datasets"], ctx)
	diags = append(diags, d...)
	for _, t := range []struct {
		dst  **Text
		name string
	}{{&r.HostKey, "host_key"}, {&r.Schedule, "schedule"}, {&r.Into, "into"}} {
		v, d := decodeText(a[t.name], ctx, singleLine)
		diags = append(diags, d...)
		*t.dst = v
	}
	r.Port, d = decodeNumber(a["port"], ctx)
	diags = append(diags, d...)
	for _, p := range []struct {
		dst  **SnapshotPolicy
		name string
	}{{&r.Snapshots, "snapshots"}, {&r.Keep, "keep"}} {
		blk, d := singleBlock(content.Blocks, p.name, "A replication block")
		diags = append(diags, d...)
		if blk != nil {
			v, d := decodeSnapshotPolicyBlock(blk, ctx)
			diags = append(diags, d...)
			*p.dst = v
		}
	}
	return r, diags
}

func decodeSnapshotPolicyBlock(b *hcl.Block, ctx *hcl.EvalContext) (*SnapshotPolicy, hcl.Diagnostics) {
	p := &SnapshotPolicy{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(snapshotPolicySchema)
	for _, n := range []struct {
		dst  **Number
		name string
	}{
		{&p.Frequently, "frequently"}, {&p.Hourly, "hourly"}, {&p.Daily, "daily"},
		{&p.Weekly, "weekly"}, {&p.Monthly, "monthly"}, {&p.Yearly, "yearly"},
	} {
		v, d := decodeNumber(content.Attributes[n.name], ctx)
		diags = append(diags, d...)
		*n.dst = v
	}
	return p, diags
}

func decodeNASReplicationBlock(b *hcl.Block, ctx *hcl.EvalContext) (*NASReplication, hcl.Diagnostics) {
	r := &NASReplication{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(nasReplicationSchema)
	a := content.Attributes
	diags = append(diags, decodeLines(a, ctx, line{"identity_file", &r.IdentityFile}, line{"public_key", &r.PublicKey})...)
	var d hcl.Diagnostics
	r.From, d = decodeTextList(a["from"], ctx)
	return r, append(diags, d...)
}
