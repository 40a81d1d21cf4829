package nas

import (
	"fmt"
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
	"github.com/holthome/bakc/templates"
)

// A NAS that is not NixOS pulls with the same engines, from plain files
// (`bakc nas-plan --format units -o DIR`, docs/replication.md): what the
// NixOS form gets from services.syncoid and services.sanoid.
//
//   - per replicated dataset, bakc-replicate-<node>-<dataset>.service
//     (`bakc run replicate` with Debian's syncoid and SyncoidArgs, as
//     root: a plain NAS has no syncoid user with delegated rights) and
//     its timer, on the node's schedule;
//   - bakc-replication-known_hosts, the nodes' host keys under their
//     names, installed as KnownHostsPath;
//   - bakc-nas-sanoid.conf, the copies with the keep policies and
//     autosnap off, installed in NASSanoidConfigDir (bakc's own folder:
//     a sanoid the NAS runs from /etc/sanoid is left alone), with
//     bakc-nas-sanoid.service and its timer (Debian's sanoid --cron:
//     it takes nothing, it prunes);
//   - bakc-nas-tmpfiles.conf, the runtime's state folder.
const (
	// NASKnownHostsFile is installed as KnownHostsPath.
	NASKnownHostsFile = "bakc-replication-known_hosts"
	// KnownHostsPath is where syncoid's ssh reads the nodes' host keys.
	KnownHostsPath = "/etc/bakc/replication-known_hosts"
	// NASSanoidConfFile is installed as sanoid.conf in NASSanoidConfigDir.
	NASSanoidConfFile  = "bakc-nas-sanoid.conf"
	NASSanoidConfigDir = "/etc/bakc/nas-sanoid"
	// NASTmpfilesFile is installed as /etc/tmpfiles.d/bakc-nas.conf.
	NASTmpfilesFile = "bakc-nas-tmpfiles.conf"
	nasSanoidUnit   = "bakc-nas-sanoid"
	// SyncoidProgram is where Debian's sanoid package puts syncoid
	// (sanoid: units.SanoidProgram); a NAS with it elsewhere
	// overrides ExecStart= in a drop-in.
	SyncoidProgram = "/usr/sbin/syncoid"
	// nasSanoidCalendar: the copies are pruned, never taken; hourly is
	// as often as the shortest kept period needs.
	nasSanoidCalendar = "hourly"
)

// ReplicateUnitName is replication.ReplicateUnitName.
func ReplicateUnitName(node, source string) string {
	return replication.ReplicateUnitName(node, source)
}

// Units returns a plain NAS's replication files, sorted by name, for a
// bakc installed at program; none when no node of p replicates. Like
// Script, it returns an error, and nothing else, for an unsafe plan.
func Units(p *plan.NASPlan, program string) ([]unitfile.File, error) {
	if p.Replication == nil {
		return nil, nil
	}
	if err := p.ValidateReplication(); err != nil {
		return nil, fmt.Errorf("NAS plan %s: %w", p.NAS.Name, err)
	}
	r := p.Replication
	if _, err := replicateFolders(r); err != nil {
		return nil, fmt.Errorf("NAS plan %s: %w", p.NAS.Name, err)
	}
	header := "# " + templates.Header(strings.Join(p.Sources, ", ")) + "\n"
	var files []unitfile.File
	add := func(u units.Unit) error {
		data, err := unitfile.Serialize(&u, program)
		if err != nil {
			return fmt.Errorf("%s: %w", u.Name, err)
		}
		files = append(files, unitfile.File{Name: u.Name, Data: append([]byte(header), data...)})
		return nil
	}
	pulls, known, err := nasPulls(p, KnownHostsPath)
	if err != nil {
		return nil, err
	}
	var copies []string
	for _, pl := range pulls {
		n, nr, d := pl.node, pl.node.Replication, pl.dataset
		argv := append([]string{program, "run", "replicate", "--syncoid", SyncoidProgram}, replicateFlags(r)...)
		argv = append(append(argv, "--"), pl.args...)
		for _, a := range argv[1:] {
			if err := escape.CheckSystemdExecArg(a); err != nil {
				return nil, fmt.Errorf("node %s: %q: %w", n.Name, a, err)
			}
		}
		name := ReplicateUnitName(n.Name, d.Source)
		if err := escape.CheckSystemdUnitName(name + ".service"); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		what := d.Source + " of " + n.Name + " into " + d.Target
		if err := add(units.Unit{Name: name + ".service", Sections: []units.Section{
			{Name: "Unit", Entries: []units.Entry{
				{Key: "Description", Value: "bakc: pull " + what + " (syncoid)"},
				{Key: "Documentation", Value: "man:syncoid(8)"},
				{Key: "Wants", Value: "network-online.target"},
				{Key: "After", Value: "network-online.target zfs.target"},
			}},
			{Name: "Service", Entries: []units.Entry{
				{Key: "Type", Value: "oneshot"},
				// sanoid's snapshot names are UTC; syncoid reads them.
				{Key: "Environment", Value: "TZ=UTC"},
				// bakc sends its status (sd_notify STATUS=).
				{Key: "NotifyAccess", Value: "main"},
				{Key: "ExecStart", Value: escape.SystemdExec(argv)},
			}},
		}}); err != nil {
			return nil, err
		}
		timer := []units.Entry{{Key: "OnCalendar", Value: nr.Schedule.Calendar}}
		if nr.Schedule.RandomizedDelay != "" {
			timer = append(timer, units.Entry{Key: "RandomizedDelaySec", Value: nr.Schedule.RandomizedDelay})
		}
		timer = append(timer, units.Entry{Key: "Persistent", Value: "true"})
		if err := add(units.Unit{Name: name + ".timer", Sections: []units.Section{
			{Name: "Unit", Entries: []units.Entry{{Key: "Description", Value: "bakc: when " + p.NAS.Name + " pulls " + what}}},
			{Name: "Timer", Entries: timer},
			{Name: "Install", Entries: []units.Entry{{Key: "WantedBy", Value: "timers.target"}}},
		}}); err != nil {
			return nil, err
		}
		copies = append(copies, d.Target)
	}
	if len(copies) == 0 {
		return nil, nil
	}
	var conf strings.Builder
	first := true
	for _, n := range p.Nodes {
		if nr := n.Replication; nr != nil {
			var ds []string
			for _, d := range nr.Datasets {
				ds = append(ds, d.Target)
			}
			if !first {
				conf.WriteString("\n")
			}
			comment := ""
			if first {
				comment = strings.TrimPrefix(header, "# ") + "Install as " + NASSanoidConfigDir + "/sanoid.conf.\n"
			}
			conf.WriteString(replication.SanoidConfig(strings.TrimSuffix(comment+"copies of node "+n.Name+": its keep policy, nothing taken", "\n"), ds, nr.Keep, false))
			first = false
		}
	}
	service, timer := units.SanoidUnits(nasSanoidUnit, "sanoid prunes the copies "+p.NAS.Name+" pulls",
		"the copies "+p.NAS.Name+" pulls", NASSanoidConfigDir, nasSanoidCalendar)
	for _, u := range []units.Unit{service, timer} {
		if err := add(u); err != nil {
			return nil, err
		}
	}
	// Only the state folder, which is the NAS runtime's own: the textfile
	// and log folders may be a bakc node's too on the same host, whose
	// own tmpfiles lines give them to its backup user; a second line for
	// the same path would fight over them (systemd-tmpfiles takes the
	// first file's). bakc, as root here, makes them when they are missing.
	tmpfiles := header + "d " + escape.SystemdPath(replicateState(r)) + " 0750 root root - -\n"
	files = append(files,
		unitfile.File{Name: NASKnownHostsFile, Data: []byte(header + "# Install as " + KnownHostsPath + " (mode 0644).\n" + known)},
		unitfile.File{Name: NASSanoidConfFile, Data: []byte(conf.String())},
		unitfile.File{Name: NASTmpfilesFile, Data: []byte(tmpfiles)},
	)
	slices.SortFunc(files, func(a, b unitfile.File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}
