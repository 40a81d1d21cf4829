package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Job is one backup job of a node.
type Job struct {
	Name        string
	NameRange   hcl.Range
	DeclRange   hcl.Range
	Description *Text
	// Enabled false keeps the job in the plan and the runbook without a
	// unit or timer; nil means true.
	Enabled *Bool
	// Paths may be left out by a job that only dumps.
	Paths *TextList
	// Exclude patterns are added to the defaults' unless ExcludeDefaults
	// is false.
	Exclude         *TextList
	ExcludeDefaults *Bool
	// Repositories name repositories of the node; nil means all of them.
	Repositories    *TextList
	Schedule        *Text
	RandomizedDelay *Text
	Retention       *Retention
	Tags            *TextList
	Snapshot        *Text
	PreBackup       *Text
	PostBackup      *Text
	OnFailure       *Text
	OnFailureUnit   *Text
	Resources       *Resources
	// Hooks are the hooks written as blocks, in source order.
	Hooks []*Hook
	// Dumps are the job's dump blocks, in source order.
	Dumps []*Dump
	// Notify is the job's notify block (notify.go).
	Notify *Notify
}

var jobSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "enabled"},
		{Name: "paths"},
		{Name: "exclude"},
		{Name: "exclude_defaults"},
		{Name: "repositories"},
		{Name: "schedule"},
		{Name: "randomized_delay"},
		{Name: "tags"},
		{Name: "snapshot"},
		{Name: "pre_backup"},
		{Name: "post_backup"},
		{Name: "on_failure"},
		{Name: "on_failure_unit"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "retention"},
		{Type: "resources"},
		{Type: "hook", LabelNames: []string{"name"}},
		{Type: "dump", LabelNames: []string{"name"}},
		{Type: "notify"},
	},
}

func decodeJobBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Job, hcl.Diagnostics) {
	j := &Job{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: blockRange(b)}
	content, diags := bodyContent(b.Body, jobSchema, "job")
	a := content.Attributes
	for _, t := range []struct {
		dst  **Text
		name string
		mode textMode
	}{
		{&j.Description, "description", singleLine},
		{&j.Schedule, "schedule", singleLine},
		{&j.RandomizedDelay, "randomized_delay", singleLine},
		{&j.Snapshot, "snapshot", singleLine},
		{&j.PreBackup, "pre_backup", multiLine},
		{&j.PostBackup, "post_backup", multiLine},
		{&j.OnFailure, "on_failure", multiLine},
		{&j.OnFailureUnit, "on_failure_unit", singleLine},
	} {
		v, d := decodeText(a[t.name], ctx, t.mode)
		diags = append(diags, d...)
		*t.dst = v
	}
	for _, l := range []struct {
		dst  **TextList
		name string
	}{{&j.Paths, "paths"}, {&j.Exclude, "exclude"}, {&j.Repositories, "repositories"}, {&j.Tags, "tags"}} {
		v, d := decodeTextList(a[l.name], ctx)
		diags = append(diags, d...)
		*l.dst = v
	}
	var d hcl.Diagnostics
	j.ExcludeDefaults, d = decodeBool(a["exclude_defaults"], ctx)
	diags = append(diags, d...)
	j.Enabled, d = decodeBool(a["enabled"], ctx)
	diags = append(diags, d...)
	where := "A job"
	blk, d := singleBlock(content.Blocks, "retention", where)
	diags = append(diags, d...)
	if blk != nil {
		j.Retention, d = decodeRetentionBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "resources", where)
	diags = append(diags, d...)
	if blk != nil {
		j.Resources, d = decodeResourcesBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "notify", where)
	diags = append(diags, d...)
	if blk != nil {
		j.Notify, d = decodeNotifyBlock(blk, ctx)
		diags = append(diags, d...)
	}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "hook":
			h, d := decodeHookBlock(blk, ctx)
			diags = append(diags, d...)
			j.Hooks = append(j.Hooks, h)
		case "dump":
			dp, d := decodeDumpBlock(blk, ctx)
			diags = append(diags, d...)
			j.Dumps = append(j.Dumps, dp)
		}
	}
	return j, diags
}
