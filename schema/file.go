package schema

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// JSONSuffix marks a file written in HCL's JSON syntax; it is decoded
// exactly like native syntax.
const JSONSuffix = ".hcl.json"

// IsConfigFile reports whether a file name is one bakc reads: *.hcl or
// *.hcl.json.
func IsConfigFile(name string) bool {
	return strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, JSONSuffix)
}

// Parse parses src as native HCL or, for a *.hcl.json name, as HCL's
// JSON syntax. filename is what diagnostics will print.
func Parse(p *hclparse.Parser, src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if strings.HasSuffix(filename, JSONSuffix) {
		return p.ParseJSON(src, filename)
	}
	return p.ParseHCL(src, filename)
}

// singleBlock returns the one block of a type that may appear at most
// once in a body, reporting every further one.
func singleBlock(blocks hcl.Blocks, typ, where string) (*hcl.Block, hcl.Diagnostics) {
	var first *hcl.Block
	var diags hcl.Diagnostics
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first == nil {
			first = b
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %s block", typ),
			Detail: fmt.Sprintf("%s may have at most one %s block; the first one is at %s. Merge the two blocks into one.",
				where, typ, fmt.Sprintf("%s:%d", first.DefRange.Filename, first.DefRange.Start.Line)),
			Subject: b.DefRange.Ptr(),
		})
	}
	return first, diags
}

// blockRange is the range a block-level diagnostic points at: its
// header, as Terraform does.
func blockRange(b *hcl.Block) hcl.Range { return b.DefRange }
