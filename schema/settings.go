package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Retention is a restic forget policy. A job's retention block replaces
// the defaults' whole.
type Retention struct {
	DeclRange hcl.Range
	Last      *Number
	Hourly    *Number
	Daily     *Number
	Weekly    *Number
	Monthly   *Number
	Yearly    *Number
	// Within is a restic duration for --keep-within ("2y5m").
	Within *Text
}

// Resources limit a job's service. A job's resources block overrides the
// defaults' attribute by attribute.
type Resources struct {
	DeclRange hcl.Range
	Nice      *Number
	IOClass   *Text
	CPUQuota  *Text
	MemoryMax *Text
	Timeout   *Text
}

// Verify is a `restic check` task for each repository.
type Verify struct {
	DeclRange       hcl.Range
	Schedule        *Text
	RandomizedDelay *Text
	ReadDataSubset  *Text
}

// RestoreTest is a restore test task for each repository.
type RestoreTest struct {
	DeclRange       hcl.Range
	Schedule        *Text
	RandomizedDelay *Text
	Files           *Number
}

// Prune is a `restic prune` task for each repository.
type Prune struct {
	DeclRange       hcl.Range
	Schedule        *Text
	RandomizedDelay *Text
}

// User is the backup user and group; attributes override the defaults'
// one by one.
type User struct {
	DeclRange hcl.Range
	Name      *Text
	Group     *Text
	UID       *Number
	GID       *Number
}

// Paths are the runtime's folders on the node.
type Paths struct {
	DeclRange hcl.Range
	Plan      *Text
	State     *Text
	Cache     *Text
	Log       *Text
	// Docs is the folder the node's runbook is linked into.
	Docs *Text
}

// Monitoring says where metrics and error lines go.
type Monitoring struct {
	DeclRange     hcl.Range
	TextfileDir   *Text
	ErrorLog      *Text
	OnFailureUnit *Text
	// Grace is added to a schedule's longest gap and randomized delay
	// before an alert says a task is overdue (bakc alerts).
	Grace *Text
}

var retentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "last"}, {Name: "hourly"}, {Name: "daily"}, {Name: "weekly"},
	{Name: "monthly"}, {Name: "yearly"}, {Name: "within"},
}}

func decodeRetentionBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Retention, hcl.Diagnostics) {
	r := &Retention{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(retentionSchema)
	a := content.Attributes
	for _, n := range []struct {
		dst  **Number
		name string
	}{
		{&r.Last, "last"}, {&r.Hourly, "hourly"}, {&r.Daily, "daily"},
		{&r.Weekly, "weekly"}, {&r.Monthly, "monthly"}, {&r.Yearly, "yearly"},
	} {
		v, d := decodeNumber(a[n.name], ctx)
		diags = append(diags, d...)
		*n.dst = v
	}
	var d hcl.Diagnostics
	r.Within, d = decodeText(a["within"], ctx, singleLine)
	return r, append(diags, d...)
}

var resourcesSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "nice"}, {Name: "io_class"}, {Name: "cpu_quota"}, {Name: "memory_max"}, {Name: "timeout"},
}}

func decodeResourcesBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Resources, hcl.Diagnostics) {
	r := &Resources{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(resourcesSchema)
	a := content.Attributes
	var d hcl.Diagnostics
	r.Nice, d = decodeNumber(a["nice"], ctx)
	diags = append(diags, d...)
	diags = append(diags, decodeLines(a, ctx, line{"io_class", &r.IOClass}, line{"cpu_quota", &r.CPUQuota},
		line{"memory_max", &r.MemoryMax}, line{"timeout", &r.Timeout})...)
	return r, diags
}

var verifySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "schedule"}, {Name: "randomized_delay"}, {Name: "read_data_subset"},
}}

func decodeVerifyBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Verify, hcl.Diagnostics) {
	v := &Verify{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(verifySchema)
	return v, append(diags, decodeLines(content.Attributes, ctx, line{"schedule", &v.Schedule},
		line{"randomized_delay", &v.RandomizedDelay}, line{"read_data_subset", &v.ReadDataSubset})...)
}

var restoreTestSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "schedule"}, {Name: "randomized_delay"}, {Name: "files"},
}}

func decodeRestoreTestBlock(b *hcl.Block, ctx *hcl.EvalContext) (*RestoreTest, hcl.Diagnostics) {
	r := &RestoreTest{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(restoreTestSchema)
	a := content.Attributes
	diags = append(diags, decodeLines(a, ctx, line{"schedule", &r.Schedule}, line{"randomized_delay", &r.RandomizedDelay})...)
	var d hcl.Diagnostics
	r.Files, d = decodeNumber(a["files"], ctx)
	return r, append(diags, d...)
}

var pruneSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "schedule"}, {Name: "randomized_delay"},
}}

func decodePruneBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Prune, hcl.Diagnostics) {
	p := &Prune{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(pruneSchema)
	return p, append(diags, decodeLines(content.Attributes, ctx, line{"schedule", &p.Schedule}, line{"randomized_delay", &p.RandomizedDelay})...)
}

var userSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "name"}, {Name: "group"}, {Name: "uid"}, {Name: "gid"},
}}

func decodeUserBlock(b *hcl.Block, ctx *hcl.EvalContext) (*User, hcl.Diagnostics) {
	u := &User{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(userSchema)
	a := content.Attributes
	var d hcl.Diagnostics
	u.Name, d = decodeText(a["name"], ctx, singleLine)
	diags = append(diags, d...)
	u.Group, d = decodeText(a["group"], ctx, singleLine)
	diags = append(diags, d...)
	u.UID, d = decodeNumber(a["uid"], ctx)
	diags = append(diags, d...)
	u.GID, d = decodeNumber(a["gid"], ctx)
	return u, append(diags, d...)
}

var pathsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "plan"}, {Name: "state"}, {Name: "cache"}, {Name: "log"}, {Name: "docs"},
}}

func decodePathsBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Paths, hcl.Diagnostics) {
	p := &Paths{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(pathsSchema)
	for _, t := range []struct {
		dst  **Text
		name string
	}{{&p.Plan, "plan"}, {&p.State, "state"}, {&p.Cache, "cache"}, {&p.Log, "log"}, {&p.Docs, "docs"}} {
		v, d := decodeText(content.Attributes[t.name], ctx, singleLine)
		diags = append(diags, d...)
		*t.dst = v
	}
	return p, diags
}

var monitoringSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "textfile_dir"}, {Name: "error_log"}, {Name: "on_failure_unit"}, {Name: "grace"},
}}

func decodeMonitoringBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Monitoring, hcl.Diagnostics) {
	m := &Monitoring{DeclRange: blockRange(b)}
	content, diags := b.Body.Content(monitoringSchema)
	for _, t := range []struct {
		dst  **Text
		name string
	}{{&m.TextfileDir, "textfile_dir"}, {&m.ErrorLog, "error_log"}, {&m.OnFailureUnit, "on_failure_unit"}, {&m.Grace, "grace"}} {
		v, d := decodeText(content.Attributes[t.name], ctx, singleLine)
		diags = append(diags, d...)
		*t.dst = v
	}
	return m, diags
}
