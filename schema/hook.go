package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Hook is a hook written as a block: `hook "pre_backup" { command = …
// user = … }`. The label says which hook; the attribute form
// (pre_backup = "…") is the same hook with nothing declared.
type Hook struct {
	// Name is the label: pre_backup, post_backup or on_failure (checked
	// by the compiler).
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	// Command is run with `sh -c`; it may span lines.
	Command *Text
	StepNeeds
}

// StepNeeds are the attributes a hook and a dump share: who runs the
// command and what it needs from the system.
type StepNeeds struct {
	User     *Text
	Packages *TextList
	Path     *TextList
	// Writes is only accepted in a hook: a dump never writes files.
	Writes *TextList
}

// Dump is a job's database dump: a command whose output restic backs
// up from its stdin.
type Dump struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	// Command is an argv, run without a shell.
	Command        *TextList
	Filename       *Text
	RestoreCommand *TextList
	StepNeeds
}

var hookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command", Required: true},
		{Name: "user"},
		{Name: "packages"},
		{Name: "path"},
		{Name: "writes"},
	},
}

var dumpSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command", Required: true},
		{Name: "filename"},
		{Name: "restore_command"},
		{Name: "user"},
		{Name: "packages"},
		{Name: "path"},
	},
}

func decodeHookBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Hook, hcl.Diagnostics) {
	h := &Hook{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := b.Body.Content(hookSchema)
	var d hcl.Diagnostics
	h.Command, d = decodeText(content.Attributes["command"], ctx, multiLine)
	diags = append(diags, d...)
	h.StepNeeds, d = decodeStepNeeds(content.Attributes, ctx)
	return h, append(diags, d...)
}

func decodeDumpBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Dump, hcl.Diagnostics) {
	dp := &Dump{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := b.Body.Content(dumpSchema)
	a := content.Attributes
	var d hcl.Diagnostics
	dp.Command, d = decodeTextList(a["command"], ctx)
	diags = append(diags, d...)
	dp.RestoreCommand, d = decodeTextList(a["restore_command"], ctx)
	diags = append(diags, d...)
	dp.Filename, d = decodeText(a["filename"], ctx, singleLine)
	diags = append(diags, d...)
	dp.StepNeeds, d = decodeStepNeeds(a, ctx)
	return dp, append(diags, d...)
}

func decodeStepNeeds(a hcl.Attributes, ctx *hcl.EvalContext) (StepNeeds, hcl.Diagnostics) {
	var n StepNeeds
	var diags, d hcl.Diagnostics
	n.User, d = decodeText(a["user"], ctx, singleLine)
	diags = append(diags, d...)
	for _, l := range []struct {
		dst  **TextList
		name string
	}{{&n.Packages, "packages"}, {&n.Path, "path"}, {&n.Writes, "writes"}} {
		v, d := decodeTextList(a[l.name], ctx)
		diags = append(diags, d...)
		*l.dst = v
	}
	return n, diags
}
