package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// HostFile is a decoded host file: one or more node blocks.
type HostFile struct {
	Filename string
	Nodes    []*Node
}

// Node is a host whose data is backed up.
type Node struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	// Filename is the host file the node was declared in.
	Filename     string
	Address      *Text
	NAS          *Text
	ZFS          *ZFS
	Repositories []*Repository
	Jobs         []*Job
	Settings
}

// ZFS declares the node's datasets and their replication.
type ZFS struct {
	DeclRange hcl.Range
	// Datasets maps a mountpoint to the dataset mounted there.
	Datasets *TextMap
	// ReplicationKey is the attribute of the push layout (the node
	// pushed with its own key); the compiler refuses it and says what
	// replaced it.
	ReplicationKey *Text
	// Replication, when set, has the NAS pull the datasets.
	Replication *Replication
}

var hostSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "node", LabelNames: []string{"name"}},
		// Accepted only to say where they belong.
		{Type: "nas", LabelNames: []string{"name"}},
		{Type: "defaults"},
	},
}

var nodeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address"},
		{Name: "nas"},
	},
	Blocks: append([]hcl.BlockHeaderSchema{
		{Type: "zfs"},
		{Type: "repository", LabelNames: []string{"name"}},
		{Type: "job", LabelNames: []string{"name"}},
	}, settingsBlocks...),
}

var zfsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "datasets"},
		{Name: "replication_key"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "replication"},
	},
}

// DecodeHostFile decodes a host file with ctx (see HostContext).
func DecodeHostFile(f *hcl.File, filename string, ctx *hcl.EvalContext) (*HostFile, hcl.Diagnostics) {
	hf := &HostFile{Filename: filename}
	content, diags := f.Body.Content(hostSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "node":
			n, d := decodeNodeBlock(b, filename, ctx)
			diags = append(diags, d...)
			hf.Nodes = append(hf.Nodes, n)
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Fleet block in a host file",
				Detail:   "A " + b.Type + " block describes the whole fleet, so it belongs in bakc.hcl at the fleet's root, where every node's compile sees it. Move it there.",
				Subject:  b.DefRange.Ptr(),
			})
		}
	}
	return hf, diags
}

func decodeNodeBlock(b *hcl.Block, filename string, parent *hcl.EvalContext) (*Node, hcl.Diagnostics) {
	n := &Node{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b), Filename: filename}
	content, diags := bodyContent(b.Body, nodeSchema, "node")
	a := content.Attributes
	var d hcl.Diagnostics
	// The address is evaluated first: the rest of the body may use it.
	n.Address, d = decodeText(a["address"], nodeNameContext(parent, n.Name), singleLine)
	diags = append(diags, d...)
	ctx := nodeContext(parent, n.Name, n.Address)
	n.NAS, d = decodeText(a["nas"], ctx, singleLine)
	diags = append(diags, d...)
	where := "A node"
	blk, d := singleBlock(content.Blocks, "zfs", where)
	diags = append(diags, d...)
	if blk != nil {
		n.ZFS, d = decodeZFSBlock(blk, ctx)
		diags = append(diags, d...)
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "repository":
			r, d := decodeRepositoryBlock(blk, ctx)
			diags = append(diags, d...)
			n.Repositories = append(n.Repositories, r)
		case "job":
			j, d := decodeJobBlock(blk, ctx)
			diags = append(diags, d...)
			n.Jobs = append(n.Jobs, j)
		}
	}
	n.Settings, d = decodeSettings(content.Blocks, ctx, where)
	return n, append(diags, d...)
}

func decodeZFSBlock(b *hcl.Block, ctx *hcl.EvalContext) (*ZFS, hcl.Diagnostics) {
	z := &ZFS{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(zfsSchema)
	var d hcl.Diagnostics
	z.Datasets, d = decodeTextMap(content.Attributes["datasets"], ctx)
	diags = append(diags, d...)
	z.ReplicationKey, d = decodeText(content.Attributes["replication_key"], ctx, singleLine)
	diags = append(diags, d...)
	blk, d := singleBlock(content.Blocks, "replication", "A zfs block")
	diags = append(diags, d...)
	if blk != nil {
		z.Replication, d = decodeReplicationBlock(blk, ctx)
		diags = append(diags, d...)
	}
	return z, diags
}
