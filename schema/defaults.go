package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Defaults is what every node and job of the fleet gets unless it says
// otherwise.
type Defaults struct {
	DeclRange hcl.Range
	// Exclude patterns come before every job's own.
	Exclude *TextList
	// Schedule is the schedule of a job that declares none.
	Schedule *Text
	// RandomizedDelay is the randomized delay of every timer.
	RandomizedDelay *Text
	// ResticVersion is the oldest restic the nodes run (major.minor),
	// which the restic options used must be known to.
	ResticVersion *Text
	Retention     *Retention
	Resources     *Resources
	Settings
}

// Settings are the blocks that both defaults and a node may hold; a
// node's replace (verify, restore_test, prune) or override attribute by
// attribute (user, paths, monitoring) the defaults'.
type Settings struct {
	User        *User
	Paths       *Paths
	Monitoring  *Monitoring
	Verify      *Verify
	RestoreTest *RestoreTest
	Prune       *Prune
}

// settingsBlocks are the block types of Settings.
var settingsBlocks = []hcl.BlockHeaderSchema{
	{Type: "user"}, {Type: "paths"}, {Type: "monitoring"},
	{Type: "verify"}, {Type: "restore_test"}, {Type: "prune"},
}

var defaultsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "exclude"}, {Name: "schedule"}, {Name: "randomized_delay"}, {Name: "restic_version"},
	},
	Blocks: append([]hcl.BlockHeaderSchema{
		{Type: "retention"}, {Type: "resources"},
	}, settingsBlocks...),
}

func decodeDefaultsBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Defaults, hcl.Diagnostics) {
	def := &Defaults{DeclRange: blockRange(b)}
	content, diags := bodyContent(b.Body, defaultsSchema, "defaults")
	a := content.Attributes
	var d hcl.Diagnostics
	def.Exclude, d = decodeTextList(a["exclude"], ctx)
	diags = append(diags, d...)
	def.Schedule, d = decodeText(a["schedule"], ctx, singleLine)
	diags = append(diags, d...)
	def.RandomizedDelay, d = decodeText(a["randomized_delay"], ctx, singleLine)
	diags = append(diags, d...)
	def.ResticVersion, d = decodeText(a["restic_version"], ctx, singleLine)
	diags = append(diags, d...)
	blk, d := singleBlock(content.Blocks, "retention", "The defaults block")
	diags = append(diags, d...)
	if blk != nil {
		def.Retention, d = decodeRetentionBlock(blk, ctx)
		diags = append(diags, d...)
	}
	blk, d = singleBlock(content.Blocks, "resources", "The defaults block")
	diags = append(diags, d...)
	if blk != nil {
		def.Resources, d = decodeResourcesBlock(blk, ctx)
		diags = append(diags, d...)
	}
	def.Settings, d = decodeSettings(content.Blocks, ctx, "The defaults block")
	return def, append(diags, d...)
}

// decodeSettings decodes the Settings blocks among blocks, at most one
// of each type.
func decodeSettings(blocks hcl.Blocks, ctx *hcl.EvalContext, where string) (Settings, hcl.Diagnostics) {
	var s Settings
	var diags hcl.Diagnostics
	one := func(typ string) *hcl.Block {
		blk, d := singleBlock(blocks, typ, where)
		diags = append(diags, d...)
		return blk
	}
	var d hcl.Diagnostics
	if blk := one("user"); blk != nil {
		s.User, d = decodeUserBlock(blk, ctx)
		diags = append(diags, d...)
	}
	if blk := one("paths"); blk != nil {
		s.Paths, d = decodePathsBlock(blk, ctx)
		diags = append(diags, d...)
	}
	if blk := one("monitoring"); blk != nil {
		s.Monitoring, d = decodeMonitoringBlock(blk, ctx)
		diags = append(diags, d...)
	}
	if blk := one("verify"); blk != nil {
		s.Verify, d = decodeVerifyBlock(blk, ctx)
		diags = append(diags, d...)
	}
	if blk := one("restore_test"); blk != nil {
		s.RestoreTest, d = decodeRestoreTestBlock(blk, ctx)
		diags = append(diags, d...)
	}
	if blk := one("prune"); blk != nil {
		s.Prune, d = decodePruneBlock(blk, ctx)
		diags = append(diags, d...)
	}
	return s, diags
}
