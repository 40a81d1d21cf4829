package units

import (
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/replication"
)

// The node's side of ZFS replication on a host that is not NixOS (NixOS
// gets it from services.sanoid and its own oneshot, emit/nixos), and a
// plain NAS's sanoid for its copies (emit/nas): units outside Build's
// Set, which the NixOS form renders too.

// SanoidProgram and ZFSProgram are where Debian's sanoid and
// zfsutils-linux put them (/sbin is /usr/sbin on a merged /usr); a host
// with them elsewhere overrides ExecStart= in a drop-in.
const (
	SanoidProgram = "/usr/sbin/sanoid"
	ZFSProgram    = "/usr/sbin/zfs"
)

// SanoidUnits are a service that runs Debian's sanoid --cron (take, then
// prune, as the config says) on the sanoid.conf in configDir, with a
// cache and run folder of its own named name, and its timer on calendar:
// a replicating node's (name bakc-sanoid) and a plain NAS's for its
// copies (bakc-nas-sanoid). what completes the descriptions.
func SanoidUnits(name, what, timerWhat, configDir, calendar string) (service, timer Unit) {
	service = Unit{Name: name + ".service", Sections: []Section{
		{Name: "Unit", Entries: []Entry{
			{Key: "Description", Value: "bakc: " + what},
			{Key: "Documentation", Value: "man:sanoid(8)"},
			{Key: "After", Value: "local-fs.target zfs.target"},
		}},
		{Name: "Service", Entries: []Entry{
			{Key: "Type", Value: "oneshot"},
			// sanoid names and ages its snapshots by the clock's zone;
			// UTC, as Debian's and NixOS's units run it.
			{Key: "Environment", Value: "TZ=UTC"},
			{Key: "CacheDirectory", Value: name},
			{Key: "RuntimeDirectory", Value: name},
			{Key: "ExecStart", Value: escape.SystemdExec([]string{SanoidProgram, "--cron", "--verbose",
				"--configdir", configDir, "--cache-dir", "/var/cache/" + name, "--run-dir", "/run/" + name})},
		}},
	}}
	timer = Unit{Name: name + ".timer", Sections: []Section{
		{Name: "Unit", Entries: []Entry{{Key: "Description", Value: "bakc: run sanoid for " + timerWhat}}},
		{Name: "Timer", Entries: []Entry{
			{Key: "OnCalendar", Value: calendar},
			{Key: "Persistent", Value: "true"},
		}},
		{Name: "Install", Entries: []Entry{{Key: "WantedBy", Value: "timers.target"}}},
	}}
	return service, timer
}

// ReplicationAllowUnit is the oneshot that gives the send user zfs send
// on the replicated datasets at boot (replication.AllowArgs), with
// Debian's zfs. The datasets passed CheckSystemdExecArg.
func ReplicationAllowUnit(r *plan.Replication) Unit {
	u := Unit{Name: replication.AllowUnit + ".service", Sections: []Section{
		{Name: "Unit", Entries: []Entry{
			{Key: "Description", Value: "bakc: let " + r.User + " zfs send the replicated datasets"},
			{Key: "After", Value: "zfs.target"},
		}},
		{Name: "Service", Entries: []Entry{
			{Key: "Type", Value: "oneshot"},
			{Key: "RemainAfterExit", Value: "true"},
		}},
		{Name: "Install", Entries: []Entry{{Key: "WantedBy", Value: "multi-user.target"}}},
	}}
	for _, ds := range r.Datasets {
		u.Sections[1].Entries = append(u.Sections[1].Entries, Entry{Key: "ExecStart",
			Value: escape.SystemdExec(append([]string{ZFSProgram}, replication.AllowArgs(r.User, ds)...))})
	}
	return u
}
