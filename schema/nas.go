package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// NAS is a storage host that receives the backups of the nodes naming
// it. Its datasets are created once for every such node, below
// Parent/<node>.
type NAS struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	Address   *Text
	// Parent is the dataset below which node datasets are created.
	Parent *Text
	// MountRoot is where Parent is mounted on the NAS; nil means
	// "/" + Parent, ZFS's own default.
	MountRoot *Text
	// Capacity is the usable size the quotas are checked against.
	Capacity *Text
	Datasets []*NASDataset
	// Replication, when set, is the key the NAS pulls its nodes' ZFS
	// datasets with.
	Replication *NASReplication
}

// NASDataset is a dataset created on the NAS for every node of it.
type NASDataset struct {
	Name        string
	NameRange   hcl.Range
	DeclRange   hcl.Range
	Quota       *Text
	Reservation *Text
	Compression *Text
	Atime       *Text
	Recordsize  *Text
	Readonly    *Text
	// Properties are further ZFS properties by name.
	Properties *TextMap
	// Export is "nfs" to export the dataset to its node.
	Export *Text
	// ExportOptions replace the default export options.
	ExportOptions *TextList
	// Receive makes the dataset a target of ZFS replication.
	Receive *Bool
}

var nasSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address", Required: true},
		{Name: "parent", Required: true},
		{Name: "mount_root"},
		{Name: "capacity"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "dataset", LabelNames: []string{"name"}},
		{Type: "replication"},
	},
}

var nasDatasetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "quota"},
		{Name: "reservation"},
		{Name: "compression"},
		{Name: "atime"},
		{Name: "recordsize"},
		{Name: "readonly"},
		{Name: "properties"},
		{Name: "export"},
		{Name: "export_options"},
		{Name: "receive"},
	},
}

func decodeNASBlock(b *hcl.Block, ctx *hcl.EvalContext) (*NAS, hcl.Diagnostics) {
	n := &NAS{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := b.Body.Content(nasSchema)
	var d hcl.Diagnostics
	n.Address, d = decodeText(content.Attributes["address"], ctx, singleLine)
	diags = append(diags, d...)
	n.Parent, d = decodeText(content.Attributes["parent"], ctx, singleLine)
	diags = append(diags, d...)
	n.MountRoot, d = decodeText(content.Attributes["mount_root"], ctx, singleLine)
	diags = append(diags, d...)
	n.Capacity, d = decodeText(content.Attributes["capacity"], ctx, singleLine)
	diags = append(diags, d...)
	blk, d := singleBlock(content.Blocks, "replication", "A NAS")
	diags = append(diags, d...)
	if blk != nil {
		n.Replication, d = decodeNASReplicationBlock(blk, ctx)
		diags = append(diags, d...)
	}
	for _, blk := range content.Blocks {
		if blk.Type != "dataset" {
			continue
		}
		ds, d := decodeNASDatasetBlock(blk, ctx)
		diags = append(diags, d...)
		n.Datasets = append(n.Datasets, ds)
	}
	return n, diags
}

func decodeNASDatasetBlock(b *hcl.Block, ctx *hcl.EvalContext) (*NASDataset, hcl.Diagnostics) {
	ds := &NASDataset{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := b.Body.Content(nasDatasetSchema)
	a := content.Attributes
	texts := []struct {
		dst  **Text
		name string
	}{
		{&ds.Quota, "quota"},
		{&ds.Reservation, "reservation"},
		{&ds.Compression, "compression"},
		{&ds.Atime, "atime"},
		{&ds.Recordsize, "recordsize"},
		{&ds.Readonly, "readonly"},
		{&ds.Export, "export"},
	}
	for _, t := range texts {
		v, d := decodeText(a[t.name], ctx, singleLine)
		diags = append(diags, d...)
		*t.dst = v
	}
	var d hcl.Diagnostics
	ds.Properties, d = decodeTextMap(a["properties"], ctx)
	diags = append(diags, d...)
	ds.ExportOptions, d = decodeTextList(a["export_options"], ctx)
	diags = append(diags, d...)
	ds.Receive, d = decodeBool(a["receive"], ctx)
	diags = append(diags, d...)
	return ds, diags
}
