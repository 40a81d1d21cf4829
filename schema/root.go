package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// RootFile is the decoded bakc.hcl: what the whole fleet shares.
type RootFile struct {
	Filename string
	// NAS are the storage hosts, in source order.
	NAS []*NAS
	// Defaults is nil when the file has no defaults block.
	Defaults *Defaults
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "nas", LabelNames: []string{"name"}},
		{Type: "defaults"},
		// Accepted only to say where a node belongs.
		{Type: "node", LabelNames: []string{"name"}},
	},
}

// DecodeRootFile decodes bakc.hcl. It keeps going after an error where
// that cannot cascade, so that one run reports every mistake it can.
func DecodeRootFile(f *hcl.File, filename string) (*RootFile, hcl.Diagnostics) {
	root := &RootFile{Filename: filename}
	content, diags := f.Body.Content(rootSchema)
	ctx := RootContext()
	_, d := singleBlock(content.Blocks, "defaults", "bakc.hcl")
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		switch b.Type {
		case "nas":
			n, d := decodeNASBlock(b, ctx)
			diags = append(diags, d...)
			root.NAS = append(root.NAS, n)
		case "defaults":
			if root.Defaults != nil {
				continue // reported by singleBlock
			}
			def, d := decodeDefaultsBlock(b, ctx)
			diags = append(diags, d...)
			root.Defaults = def
		case "node":
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Node in bakc.hcl",
				Detail:   "bakc.hcl holds what the fleet shares (nas and defaults blocks); each node is declared in its own host file below it, conventionally hosts/<node>.hcl, so that a node's file can be compiled on its own. Move this block to such a file.",
				Subject:  b.DefRange.Ptr(),
			})
		}
	}
	return root, diags
}
