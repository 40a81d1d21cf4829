package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
)

// Exit codes of bakc status, for a monitoring check.
const (
	exitStatusFailed  = 3
	exitStatusOverdue = 4
)

type statusOptions struct {
	plan string
	json bool
}

var statusLong = fmt.Sprintf(`Show whether this node's backups are healthy, from the files the runs
leave (no repository is opened): for each job and each of its
repositories, the last success, the last run's outcome, how long it took,
the files and bytes it added, and the failure's category; the job's next
run (from systemd's timers, or computed from the plan where systemd is
not running); a run in progress, or one that was killed and not reported
yet; for each repository its verify, restore test and prune, and its size
and quota where a metric reports them.

A job is overdue in a repository when its last success there is older
than its schedule allows: the longest gap between two runs of the
schedule (summer time included), plus its randomized delay, plus the
node's monitoring grace (default %s): the rule the alert rules of
'bakc alerts' use, from the same code (docs/metrics.md). The same rule holds for a repository's verify, restore test and prune.
A job that never succeeded counts as overdue ("never": nothing of it can
be restored); a repository task that never ran is "pending" (status reads
no repository, and cannot tell since when it should have run). Where
systemd runs, a task whose timer systemd does not have is overdue too: it
never runs by itself.

--json prints the same as JSON (docs/node.md). Colours and the
terminal's width are used only on a terminal.

Exit codes:
  0  every job and repository task is ok (or disabled)
  1  the plan cannot be read
  2  usage error
  3  a last run failed (a partial backup too) or was killed
  4  nothing failed, but something is overdue or never succeeded`, plan.DefaultGrace)

func newStatusCmd(e *env) *cobra.Command {
	var opts statusOptions
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the node's backups are healthy (non-zero when something failed or is overdue)",
		Long:  statusLong,
		Example: `  bakc status
  bakc status --json | jq '.problems'`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error { return runStatus(e, opts) },
	}
	cmd.Flags().StringVar(&opts.plan, "plan", defaultPlanPath, "the node's plan `FILE`, as the units read it")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the status as JSON")
	return cmd
}

func runStatus(e *env, opts statusOptions) error {
	p, err := (&nodeOptions{plan: opts.plan}).readPlan()
	if err != nil {
		return err
	}
	timers, note := listTimers(context.Background())
	st := runtime.ReadStatus(p, runtime.StatusOptions{Now: now(), Timers: timers, TimersNote: note})
	if opts.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		printStatus(newDisplay(e.stdout), st)
	}
	switch st.Health {
	case runtime.HealthFailed:
		return silentExit(exitStatusFailed)
	case runtime.HealthOverdue, runtime.HealthNever:
		return silentExit(exitStatusOverdue)
	}
	return nil
}

func printStatus(d *display, st *runtime.Status) {
	fmt.Fprintf(d.w, "%s at %s: %s\n", st.Node, st.Time.Local().Format("2006-01-02 15:04:05 MST"), d.paint(healthWord(st.Health), healthColour(st.Health)))
	if st.Timers == "systemd" {
		fmt.Fprintln(d.w, "Next runs: systemd's timers.")
	} else {
		d.wrap("", "Next runs: "+st.TimersNote+".")
	}
	fmt.Fprintln(d.w)

	rows := [][]string{{"JOB", "REPOSITORY", "HEALTH", "LAST SUCCESS", "LAST RUN", "TOOK", "NEW/CHANGED", "ADDED", "NEXT RUN"}}
	for _, j := range st.Jobs {
		next := "-"
		switch {
		case j.Disabled:
			next = "never (disabled)"
		case j.NextRun != nil:
			next = when(*j.NextRun, st.Time)
		case st.Timers == "systemd":
			next = "timer not loaded"
		}
		if len(j.Repositories) == 0 {
			rows = append(rows, []string{j.Name, "-", healthWord(j.Health), "-", "-", "-", "-", "-", next})
		}
		for i, r := range j.Repositories {
			last := "never"
			if r.LastSuccess != nil {
				last = when(*r.LastSuccess, st.Time)
			}
			outcome := "-"
			if r.Outcome != "" {
				outcome = r.Outcome
				if r.Error != nil {
					outcome += ": " + string(r.Error.Category)
				} else if j.Error != nil && r.Outcome != "complete" {
					outcome += ": " + string(j.Error.Category)
				}
			}
			took, files, added := "-", "-", "-"
			if r.DurationSeconds != nil {
				took = (time.Duration(*r.DurationSeconds * float64(time.Second))).Round(time.Second).String()
			}
			if r.FilesNew != nil && r.FilesChanged != nil {
				files = fmt.Sprintf("%d/%d", *r.FilesNew, *r.FilesChanged)
			}
			if r.AddedBytes != nil {
				added = runtime.FormatBytes(*r.AddedBytes)
			}
			name, n := j.Name, next
			if i > 0 {
				name, n = "", ""
			}
			rows = append(rows, []string{name, r.Name, healthWord(r.Health), last, outcome, took, files, added, n})
		}
	}
	d.table(rows, func(row, col int, s string) string {
		if row == 0 {
			return d.paint(s, colourDim)
		}
		if col == 2 {
			return d.paint(s, healthColour(runtime.Health(s)))
		}
		return s
	})
	fmt.Fprintln(d.w)

	rows = [][]string{{"REPOSITORY", "HEALTH", "VERIFY", "RESTORE TEST", "PRUNE", "SPACE", "QUOTA"}}
	for _, r := range st.Repositories {
		cells := map[string]string{"verify": "-", "restore-test": "-", "prune": "-"}
		for _, t := range r.Tasks {
			c := healthWord(t.Health)
			if t.LastSuccess != nil {
				c += ", " + when(*t.LastSuccess, st.Time)
			}
			cells[t.Task] = c
		}
		space, quota := "unknown", "-"
		if r.UsedBytes != nil && r.AvailableBytes != nil {
			space = runtime.FormatBytes(*r.UsedBytes) + " used, " + runtime.FormatBytes(*r.AvailableBytes) + " free"
		}
		if r.QuotaBytes != nil {
			quota = runtime.FormatBytes(*r.QuotaBytes)
			if r.UsedBytes != nil && *r.QuotaBytes > 0 {
				quota += fmt.Sprintf(" (%.0f%% used)", 100*float64(*r.UsedBytes)/float64(*r.QuotaBytes))
			}
		}
		rows = append(rows, []string{r.Name, healthWord(r.Health), cells["verify"], cells["restore-test"], cells["prune"], space, quota})
	}
	d.table(rows, func(row, col int, s string) string {
		if row == 0 {
			return d.paint(s, colourDim)
		}
		if col == 1 {
			return d.paint(s, healthColour(runtime.Health(s)))
		}
		return s
	})

	var running []string
	for _, j := range st.Jobs {
		if j.Running != nil {
			running = append(running, "backup of job "+j.Name+runWords(j.Running, st.Time))
		}
	}
	for _, r := range st.Repositories {
		for _, t := range r.Tasks {
			if t.Running != nil {
				running = append(running, t.Task+" of repository "+r.Name+runWords(t.Running, st.Time))
			}
		}
	}
	if len(running) > 0 {
		fmt.Fprintln(d.w, "\nRunning now:")
		for _, r := range running {
			d.wrap("  ", r)
		}
	}
	if len(st.Problems) > 0 {
		fmt.Fprintln(d.w, "\nProblems:")
		for _, p := range st.Problems {
			d.wrap("  ", d.paint(healthWord(p.Health)+":", healthColour(p.Health))+" "+p.Message)
		}
	}
}

func runWords(r *runtime.RunInfo, now time.Time) string {
	s := fmt.Sprintf(", started %s, pid %d, phase %s", when(r.Start, now), r.PID, r.Phase)
	if r.Repository != "" {
		s += " (repository " + r.Repository + ")"
	}
	return s
}

func healthWord(h runtime.Health) string {
	switch h {
	case runtime.HealthFailed, runtime.HealthOverdue:
		return strings.ToUpper(string(h))
	}
	return string(h)
}

func healthColour(h runtime.Health) string {
	switch runtime.Health(strings.ToLower(string(h))) {
	case runtime.HealthOK:
		return colourGreen
	case runtime.HealthFailed:
		return colourRed
	case runtime.HealthOverdue, runtime.HealthNever:
		return colourYellow
	case runtime.HealthDisabled, runtime.HealthPending:
		return colourDim
	}
	return ""
}

// when is a time in this machine's zone, to the minute, with how far it
// is from now: "2026-11-30 02:00 (10h ago)", "… (in 14h)".
func when(t, now time.Time) string {
	d := now.Sub(t)
	rel := ago(d) + " ago"
	if d < 0 {
		rel = "in " + ago(-d)
	}
	return t.Local().Format("2006-01-02 15:04") + " (" + rel + ")"
}

// ago is a duration in its largest unit: "45s", "12m", "10h", "3d".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
