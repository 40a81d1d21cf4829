package replication

import (
	"slices"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// SanoidSettings are the settings of one dataset in sanoid.conf, by key:
// every kind's count (a kind left out would get sanoid's defaults,
// hourly=48 daily=90 monthly=6, from sanoid.defaults.conf), whether
// sanoid takes snapshots of it (the node) or only prunes them (the NAS,
// which receives them), and autoprune. Values are as NixOS's
// services.sanoid writes them (lib.generators.toINI): numbers, and
// true/false, which sanoid reads as its toggles.
func SanoidSettings(policy plan.SnapshotPolicy, take bool) map[string]string {
	s := map[string]string{
		"autosnap":  strconv.FormatBool(take),
		"autoprune": "true",
	}
	for _, k := range policy.Kinds() {
		s[k.Name] = strconv.Itoa(k.Count)
	}
	return s
}

// SanoidCalendar is when sanoid runs on the node: every 15 minutes
// (sanoid's frequent_period, and Debian's sanoid.timer) when the node
// takes frequent snapshots, which an hourly run would take only once an
// hour; else hourly, NixOS's services.sanoid.interval default.
func SanoidCalendar(s plan.SnapshotPolicy) string {
	if s.Frequently > 0 {
		return "*:0/15"
	}
	return "hourly"
}

// SanoidConfig is sanoid.conf for datasets, all with the same settings,
// in the form NixOS's services.sanoid writes it: sections sorted by
// dataset, keys sorted, "key=value" lines, a blank line between
// sections; comment is written first, as "#" lines. sanoid reads it with
// Config::IniFiles.
func SanoidConfig(comment string, datasets []string, policy plan.SnapshotPolicy, take bool) string {
	var b strings.Builder
	for _, line := range strings.Split(comment, "\n") {
		b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
	}
	settings := SanoidSettings(policy, take)
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ds := slices.Clone(datasets)
	slices.Sort(ds)
	for i, d := range ds {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("[" + d + "]\n")
		for _, k := range keys {
			b.WriteString(k + "=" + settings[k] + "\n")
		}
	}
	return b.String()
}
