package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/schema"
)

// lowerNotify checks a job's notify block: URLs the runtime can call
// (http or https, no credentials, which would reach the plan and the Nix
// store), a command that is a program and its arguments, and a timeout;
// nil when the job has none.
func lowerNotify(n *schema.Notify) (*plan.Notify, hcl.Diagnostics) {
	if n == nil {
		return nil, nil
	}
	out := &plan.Notify{Timeout: plan.DefaultNotifyTimeout}
	var diags hcl.Diagnostics
	for _, u := range []struct {
		t   *schema.Text
		dst *string
	}{{n.PingURL, &out.PingURL}, {n.FailureURL, &out.FailureURL}} {
		if u.t == nil {
			continue
		}
		if err := plan.CheckNotifyURL(u.t.Value); err != nil {
			diags = append(diags, errorAt(u.t.Range, "Invalid notification URL",
				"%s. Write the URL of a healthchecks.io check (https://hc-ping.com/<uuid>) or of an ntfy topic (https://ntfy.sh/<topic>).", err))
			continue
		}
		*u.dst = u.t.Value
	}
	if n.FailureCommand != nil {
		if len(n.FailureCommand.Items) == 0 || n.FailureCommand.Items[0].Value == "" {
			diags = append(diags, errorAt(n.FailureCommand.Range, "Empty notification command",
				"failure_command is a program and its arguments, run without a shell: [\"/usr/local/bin/notify\", \"--urgent\"]."))
		} else {
			out.FailureCommand = n.FailureCommand.Values()
		}
	}
	if n.Timeout != nil {
		if d := checkTimespan(n.Timeout, "notification timeout"); d.HasErrors() {
			diags = append(diags, d...)
		} else if err := plan.CheckNotifyTimeout(n.Timeout.Value); err != nil {
			diags = append(diags, errorAt(n.Timeout.Range, "Invalid notification timeout",
				"The notification timeout %s: each call waits at most this long, and a run waits for its calls. Write a span such as \"10s\" or \"1min\".", err))
		} else {
			out.Timeout = n.Timeout.Value
		}
	}
	if n.PingURL == nil && n.FailureURL == nil && n.FailureCommand == nil {
		diags = append(diags, errorAt(n.DeclRange, "Empty notify block",
			"The notify block names nothing to call. Give it ping_url, failure_url or failure_command, or remove it."))
	}
	return out, diags
}
