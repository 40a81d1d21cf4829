package schema

import (
	"github.com/hashicorp/hcl/v2"
)

// Notify is a job's notifications from the node, for users without
// Prometheus: a ping URL (healthchecks.io-style start, success and
// fail) and a failure notification URL (ntfy-style) or command.
type Notify struct {
	DeclRange      hcl.Range
	PingURL        *Text
	FailureURL     *Text
	FailureCommand *TextList
	Timeout        *Text
}

var notifySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "ping_url"}, {Name: "failure_url"}, {Name: "failure_command"}, {Name: "timeout"},
}}

func decodeNotifyBlock(b *hcl.Block, ctx *hcl.EvalContext) (*Notify, hcl.Diagnostics) {
	n := &Notify{DeclRange: blockRange(b)}
	content, diags := bodyContent(b.Body, notifySchema, "notify")
	a := content.Attributes
	diags = append(diags, decodeLines(a, ctx, line{"ping_url", &n.PingURL}, line{"failure_url", &n.FailureURL}, line{"timeout", &n.Timeout})...)
	var d hcl.Diagnostics
	n.FailureCommand, d = decodeTextList(a["failure_command"], ctx)
	return n, append(diags, d...)
}
