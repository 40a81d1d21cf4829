package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/alerts"
	"github.com/holthome/bakc/internal/atomicfile"
)

type monitoringOptions struct {
	node     string
	format   string
	jobLabel string
	output   string
	json     bool
}

const alertsLong = `Print Prometheus alerting rules for the fleet at or above FLEET (default:
the current folder), or for one node with --node. Every threshold comes
from a task's schedule: the longest gap between two runs (walked with the
same calendar code that checks the schedules), plus the timer's randomized
delay, plus monitoring.grace. The alerts: a task overdue (backup per job and
repository, verify, restore test, prune), a task that never reported, the
last run failed (with the failure's category and phase as labels),
retention not applied, a repository near its NAS quota or its disk full,
a node whose bakc metrics are absent or stale. docs/metrics.md explains
each one.

--format nix prints the same rules as NixOS configuration for the
monitoring host (services.prometheus.ruleFiles). The rules expect
Prometheus' default scrape of node_exporter (honor_labels: false), which
renames the metrics' job label to exported_job; with honor_labels: true,
give --job-label job.

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors (nothing was written)
  2  usage error, or an unknown node`

func newAlertsCmd(e *env) *cobra.Command {
	var opts monitoringOptions
	cmd := &cobra.Command{
		Use:   "alerts [FLEET]",
		Short: "Print Prometheus alerting rules derived from the fleet's schedules",
		Long:  alertsLong,
		Example: `  bakc alerts examples/homelab > bakc-alerts.yml && promtool check rules bakc-alerts.yml
  bakc alerts --node forge
  bakc alerts --format nix -o /etc/nixos/bakc-alerts.nix`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if opts.format != "rules" && opts.format != "nix" {
				return usageError("--format must be rules or nix, not %q", opts.format)
			}
			if opts.jobLabel != "exported_job" && opts.jobLabel != "job" {
				return usageError("--job-label must be exported_job or job, not %q", opts.jobLabel)
			}
			return runMonitoring(e, opts, args, func(plans []*plan.Plan, sources []string) ([]byte, error) {
				rules, err := alerts.Rules(plans, alerts.Options{JobLabel: opts.jobLabel, Sources: sources})
				if err != nil || opts.format == "rules" {
					return rules, err
				}
				return alerts.RulesNix(rules, sources)
			})
		},
	}
	opts.flags(cmd, "only this node's rules", "rules", "rules (a Prometheus rules file) or nix (NixOS config for the monitoring host)")
	cmd.Flags().StringVar(&opts.jobLabel, "job-label", alerts.DefaultJobLabel, "the label holding the job name after the scrape: exported_job (honor_labels: false, the default) or job")
	return cmd
}

const dashboardLong = `Print a Grafana dashboard for the fleet at or above FLEET (default: the
current folder), or one node with --node: per node and job the age of the
last complete backup, the last result, duration and bytes added, each
repository's space against its quota, verify and restore-test status, the
failures of the last runs and the age of each node's metrics. It is
Grafana's dashboard JSON model, importable as is; its data source is a
variable (any Prometheus).

--format nix prints it as NixOS configuration for the monitoring host
(services.grafana.provision.dashboards).

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors (nothing was written)
  2  usage error, or an unknown node`

func newDashboardCmd(e *env) *cobra.Command {
	var opts monitoringOptions
	cmd := &cobra.Command{
		Use:   "dashboard [FLEET]",
		Short: "Print a Grafana dashboard of the fleet's backups",
		Long:  dashboardLong,
		Example: `  bakc dashboard examples/homelab > bakc.json     # Grafana: Dashboards → Import
  bakc dashboard --format nix -o /etc/nixos/bakc-dashboard.nix`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if opts.format != "json" && opts.format != "nix" {
				return usageError("--format must be json or nix, not %q", opts.format)
			}
			opts.jobLabel = alerts.DefaultJobLabel
			return runMonitoring(e, opts, args, func(plans []*plan.Plan, sources []string) ([]byte, error) {
				d, err := alerts.Dashboard(plans, alerts.Options{Sources: sources})
				if err != nil || opts.format == "json" {
					return d, err
				}
				return alerts.DashboardNix(d, sources)
			})
		},
	}
	opts.flags(cmd, "only this node", "json", "json (Grafana's dashboard model) or nix (NixOS config for the monitoring host)")
	return cmd
}

// flags declares the flags alerts and dashboard share: --node, --format
// (with its default), -o and --json.
func (opts *monitoringOptions) flags(cmd *cobra.Command, nodeHelp, format, formatHelp string) {
	cmd.Flags().StringVar(&opts.node, "node", "", nodeHelp)
	cmd.Flags().StringVar(&opts.format, "format", format, formatHelp)
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to this file atomically instead of stdout")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
}

// runMonitoring loads and validates the fleet, compiles the plans of
// its nodes (or --node's) and writes what emit makes of them.
func runMonitoring(e *env, opts monitoringOptions, args []string, emit func([]*plan.Plan, []string) ([]byte, error)) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	f, err := loadFleet(e, dir, opts.json)
	if err != nil {
		return err
	}
	diags := f.Validate()
	printDiagnostics(e, f, diags, opts.json)
	if diags.HasErrors() {
		return silentExit(exitConfig)
	}
	names := f.NodeNames()
	if opts.node != "" {
		if _, ok := f.NodeFile(opts.node); !ok {
			return usageError("the fleet has no node %q; its nodes are %s", opts.node, strings.Join(names, ", "))
		}
		names = []string{opts.node}
	}
	var plans []*plan.Plan
	sources := []string{"bakc.hcl"}
	for _, name := range names {
		p, d := f.Plan(name)
		if d.HasErrors() {
			printDiagnostics(e, f, d, opts.json)
			return silentExit(exitConfig)
		}
		plans = append(plans, p)
		sources = append(sources, p.Source)
	}
	data, err := emit(plans, sources)
	if err != nil {
		return err
	}
	if opts.output == "" || opts.output == "-" {
		_, err = e.stdout.Write(data)
		return err
	}
	return atomicfile.Write(opts.output, data, os.FileMode(0o644))
}
